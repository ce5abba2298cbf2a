"""Start the gRPC server: services, health, reflection, authentication, TLS and limits."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from nca_onnx.errors import ParameterError
from nca_onnx.service._proto import nca_pb2
from nca_onnx.service.auth import TokenInterceptor, load_tokens
from nca_onnx.service.blobs import BlobStore
from nca_onnx.service.database import Database
from nca_onnx.service.edge import service_handler
from nca_onnx.service.jobs import JobManager
from nca_onnx.service.servicers import BlobsServicer, JobsServicer
from nca_onnx.service.settings import ServerConfig

__all__ = ["DATABASE_NAME", "RunningServer", "serve", "start_server"]

logger = logging.getLogger(__name__)

DATABASE_NAME = "jobs.sqlite3"
SERVICE_NAMES = tuple(service.full_name
                      for service in nca_pb2.DESCRIPTOR.services_by_name.values())


@dataclass
class RunningServer:
    """A started server and what it owns; stop() shuts all of it down in order."""

    server: grpc.Server
    health: health.HealthServicer
    jobs: JobManager
    database: Database
    port: int
    grace_s: float

    def stop(self) -> None:
        """Refuse new calls, let running jobs reach a unit boundary, close the database."""
        self.health.enter_graceful_shutdown()
        stopped = self.server.stop(self.grace_s)
        self.jobs.stop(self.grace_s)
        stopped.wait(self.grace_s + 1)
        self.database.close()
        logger.info("server stopped")


def _interceptors(settings: ServerConfig) -> list[grpc.ServerInterceptor]:
    if settings.insecure_no_auth:
        logger.warning("authentication is OFF (--insecure-no-auth): anyone who can reach "
                       "%s can run jobs", settings.host)
        return []
    tokens = load_tokens(settings.token_file, settings.token_env)
    if not tokens:
        raise ParameterError(
            f"no access tokens: put one per line in a file given by --token-file (or [auth] "
            f"token_file), or set the environment variable {settings.token_env}; for local "
            "use only, pass --insecure-no-auth")
    return [TokenInterceptor(tokens)]


def _address(settings: ServerConfig) -> str:
    host = settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{settings.port}"


def _bind(server: grpc.Server, settings: ServerConfig) -> int:
    address = _address(settings)
    if settings.uses_tls:
        credentials = grpc.ssl_server_credentials(
            [(settings.tls_key.read_bytes(), settings.tls_cert.read_bytes())])
        port = server.add_secure_port(address, credentials)
    else:
        if not settings.is_loopback:
            logger.warning("listening on %s without TLS: tokens and data cross the network "
                           "in clear; set --tls-cert and --tls-key", settings.host)
        port = server.add_insecure_port(address)
    if port == 0:
        raise ParameterError(f"cannot listen on {address}; is the port in use or the host "
                             "not an address of this machine?")
    return port


def start_server(settings: ServerConfig) -> RunningServer:
    """Open the state folder, recover jobs, and start serving; returns at once.

    Raises:
        ParameterError: no tokens, unreadable TLS files, or the address cannot be bound.
    """
    interceptors = _interceptors(settings)
    blobs = BlobStore(settings.state_dir)
    blobs.clean_scratch()
    database = Database(settings.state_dir / DATABASE_NAME)
    jobs = JobManager(database, blobs, settings)

    limits = [("grpc.max_receive_message_length", settings.max_message_bytes),
              ("grpc.max_send_message_length", settings.max_message_bytes),
              ("grpc.so_reuseport", 0)]
    server = grpc.server(futures.ThreadPoolExecutor(settings.rpc_threads,
                                                    thread_name_prefix="nca-rpc"),
                         interceptors=interceptors, options=limits,
                         maximum_concurrent_rpcs=settings.rpc_threads)
    server.add_generic_rpc_handlers((
        service_handler(nca_pb2.DESCRIPTOR.services_by_name["Blobs"],
                        BlobsServicer(blobs, settings)),
        service_handler(nca_pb2.DESCRIPTOR.services_by_name["Jobs"],
                        JobsServicer(jobs, blobs, settings)),
    ))
    checker = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checker, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    try:
        port = _bind(server, settings)
    except BaseException:
        database.close()
        raise

    server.start()
    jobs.start()
    for name in ("", *SERVICE_NAMES):
        checker.set(name, health_pb2.HealthCheckResponse.SERVING)
    logger.info("listening on %s:%d (%s, %s); state in %s", settings.host, port,
                "TLS" if settings.uses_tls else "plaintext",
                "no authentication" if settings.insecure_no_auth else "token authentication",
                settings.state_dir)
    return RunningServer(server, checker, jobs, database, port, settings.shutdown_grace_s)


def serve(settings: ServerConfig) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully (queued jobs stay queued)."""
    running = start_server(settings)
    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        logger.info("received %s; shutting down", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    while not stop.wait(1.0):
        pass
    running.stop()
