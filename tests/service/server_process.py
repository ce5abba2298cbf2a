"""Run `nca-onnx serve` as a real process on a free loopback port, and talk to it."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from nca_onnx.service.client import NcaClient

STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def new_token() -> str:
    return secrets.token_urlsafe(24)


def write_config(path: Path, state_dir: Path, port: int, *, token_file: Path | None = None,
                 tls: tuple[Path, Path] | None = None, data_roots: dict[str, Path] | None = None,
                 limits: dict[str, int] | None = None, **server: object) -> Path:
    """A TOML settings file, as an operator would write one."""
    lines = ["[server]", f'state_dir = "{state_dir}"', f"port = {port}"]
    lines += [f"{key} = {value}" for key, value in server.items()]
    if token_file is not None:
        lines += ["[auth]", f'token_file = "{token_file}"']
    if tls is not None:
        lines += ["[tls]", f'cert = "{tls[0]}"', f'key = "{tls[1]}"']
    if limits:
        lines += ["[limits]", *(f"{key} = {value}" for key, value in limits.items())]
    if data_roots:
        lines += ["[data_roots]", *(f'{name} = "{folder}"' for name, folder in data_roots.items())]
    path.write_text("\n".join(lines) + "\n")
    return path


class ServerProcess:
    """One `python -m nca_onnx serve` process; always stop it (kill() or a with block)."""

    def __init__(self, config: Path, port: int, log: Path, token: str | None,
                 tls_ca: Path | None = None, extra_args: tuple[str, ...] = ()) -> None:
        self.config, self.port, self.log, self.token, self.tls_ca = (config, port, log, token,
                                                                     tls_ca)
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None

    @property
    def target(self) -> str:
        return f"localhost:{self.port}" if self.tls_ca else f"127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> ServerProcess:
        env = {key: value for key, value in os.environ.items() if key != "NCA_ONNX_TOKENS"}
        with open(self.log, "ab") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nca_onnx", "-v", "serve", "--config", str(self.config),
                 *self.extra_args], stdout=sink, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_healthy()
        return self

    def channel(self) -> grpc.Channel:
        if self.tls_ca is not None:
            return grpc.secure_channel(self.target,
                                       grpc.ssl_channel_credentials(self.tls_ca.read_bytes()))
        return grpc.insecure_channel(self.target)

    def healthy(self) -> bool:
        with self.channel() as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            try:
                answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=2)
            except grpc.RpcError:
                return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING

    def wait_healthy(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n"
                                   f"{self.log_text()}")
            if self.healthy():
                return
            time.sleep(0.2)
        raise TimeoutError(f"server not healthy after {timeout_s} s:\n{self.log_text()}")

    def client(self, token: str | None = "default") -> NcaClient:
        token = self.token if token == "default" else token
        return NcaClient(self.target, token, tls_ca=self.tls_ca)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self, signum: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()
