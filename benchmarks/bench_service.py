"""Load on the analysis service: jobs per minute, and the latency of the small calls
(ListJobs, GetJob) while analyses run.

A real server process on a free loopback port, a temporary state folder and a token;
--clients threads submit --jobs small analyses (ch_ppocr_mobile_v2.0_cls, two layers,
34 neurons, six inputs) and watch them to the end, while a prober calls ListJobs and
GetJob back to back and times each call. Bounded by --jobs and --time-limit-s; the
server is always stopped at the end.

Run by hand:  python benchmarks/bench_service.py [--jobs 48] [--clients 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from nca_onnx.service._proto import nca_pb2
from nca_onnx.service.client import NcaClient

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "models" / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
LAYERS = ("MatMul@0", "Conv@51")
STARTUP_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _inputs(path: Path) -> None:
    """Six random text-line inputs labelled with the model's own predictions."""
    import onnxruntime as ort

    inputs = np.random.default_rng(7).uniform(-1, 1, (6, 3, 48, 192)).astype(np.float32)
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    labels = session.run(None, {"x": inputs})[0].argmax(axis=1)
    labels[0] = 0
    np.savez(path, inputs=inputs, labels=labels)


def _start_server(folder: Path, port: int, token: str, workers: int) -> subprocess.Popen:
    (folder / "tokens").write_text(token + "\n")
    (folder / "server.toml").write_text(
        f'[server]\nstate_dir = "{folder / "state"}"\nport = {port}\nworkers = {workers}\n'
        f'max_queued_jobs = 10000\nrpc_threads = 64\n[auth]\ntoken_file = "tokens"\n')
    env = {key: value for key, value in os.environ.items() if key != "NCA_ONNX_TOKENS"}
    with open(folder / "server.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "nca_onnx", "serve", "--config",
                                 str(folder / "server.toml")], stdout=log,
                                stderr=subprocess.STDOUT, env=env)


def _wait_ready(client: NcaClient, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited; see its log")
        try:
            client.list(page_size=1)
            return
        except Exception:  # not listening yet
            time.sleep(0.2)
    raise TimeoutError("the server did not answer in time")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class _Prober:
    """Calls ListJobs and GetJob back to back until stopped; keeps every latency."""

    def __init__(self, client: NcaClient, job_ids: list[str]) -> None:
        self.client, self.job_ids = client, job_ids
        self.latencies_s: dict[str, list[float]] = {"ListJobs": [], "GetJob": []}
        self.stop = threading.Event()

    def run(self) -> None:
        rng = np.random.default_rng(0)
        while not self.stop.is_set():
            started = time.perf_counter()
            self.client.list(page_size=50)
            self.latencies_s["ListJobs"].append(time.perf_counter() - started)
            if self.job_ids:
                job_id = self.job_ids[int(rng.integers(len(self.job_ids)))]
                started = time.perf_counter()
                self.client.get(job_id)
                self.latencies_s["GetJob"].append(time.perf_counter() - started)


def _one_job(target: str, token: str, request, job_ids: list[str],
             start_latencies_s: list[float], deadline: float) -> tuple[int, float]:
    with NcaClient(target, token) as client:
        started = time.perf_counter()
        job = client.start(request)
        start_latencies_s.append(time.perf_counter() - started)
        job_ids.append(job.id)
        events = client.watch(job.id, timeout_s=max(1.0, deadline - time.monotonic()))
        final = [job, *events][-1]
        return final.state, time.monotonic()


def run(jobs: int, clients: int, workers: int, time_limit_s: float) -> dict:
    """Start a server, run the load, stop the server; returns the measurements."""
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        port = _free_port()
        target = f"127.0.0.1:{port}"
        server = _start_server(folder, port, token, workers)
        try:
            with NcaClient(target, token) as client:
                _wait_ready(client, server)
                _inputs(folder / "lines.npz")
                request = nca_pb2.StartAnalysisRequest(
                    model_sha256=client.upload_model(MODEL).sha256,
                    parameters=nca_pb2.AnalysisParameters(classes=[0], min_confidence=0.0,
                                                          layers=LAYERS, crosscheck_neurons=1))
                request.data.dataset_sha256 = client.upload_dataset(folder / "lines.npz").sha256

                job_ids: list[str] = []
                start_latencies_s: list[float] = []
                prober = _Prober(client, job_ids)
                probe_thread = threading.Thread(target=prober.run, daemon=True)
                probe_thread.start()
                began = time.monotonic()
                deadline = began + time_limit_s
                with ThreadPoolExecutor(clients) as pool:
                    outcomes = list(pool.map(
                        lambda _: _one_job(target, token, request, job_ids,
                                           start_latencies_s, deadline), range(jobs)))
                prober.stop.set()
                probe_thread.join()
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    succeeded = [end for state, end in outcomes if state == nca_pb2.JOB_STATE_SUCCEEDED]
    elapsed_s = (max(succeeded) - began) if succeeded else float("nan")
    result = {"jobs": jobs, "succeeded": len(succeeded), "clients": clients,
              "workers": workers, "elapsed_s": elapsed_s,
              "jobs_per_minute": 60 * len(succeeded) / elapsed_s if succeeded else 0.0,
              "StartAnalysis": start_latencies_s}
    result.update(prober.latencies_s)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=48, help="analyses to run (default 48)")
    parser.add_argument("--clients", type=int, default=8,
                        help="threads submitting and watching jobs (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="server workers (default 2)")
    parser.add_argument("--time-limit-s", type=float, default=300.0,
                        help="give up watching after this long (default 300)")
    args = parser.parse_args()

    result = run(args.jobs, args.clients, args.workers, args.time_limit_s)
    print(f"cpus {os.cpu_count()}, server workers {result['workers']}, "
          f"{result['clients']} client threads, model {MODEL.name} ({', '.join(LAYERS)})")
    print(f"jobs: {result['succeeded']} of {result['jobs']} succeeded in "
          f"{result['elapsed_s']:.1f} s = {result['jobs_per_minute']:.1f} jobs/min")
    for call in ("ListJobs", "GetJob", "StartAnalysis"):
        values_ms = [value * 1000 for value in result[call]]
        if values_ms:
            print(f"{call:<14} {len(values_ms):6d} calls  p50 "
                  f"{statistics.median(values_ms):7.2f} ms  p95 "
                  f"{_percentile(values_ms, 0.95):7.2f} ms  max {max(values_ms):7.2f} ms")


if __name__ == "__main__":
    main()
