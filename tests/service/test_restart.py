"""SIGKILL during a job, restart on the same state: nothing accepted or finished is lost."""

from __future__ import annotations

import json
import re
import signal
import sqlite3

from nca_onnx.service._proto import nca_pb2

from .conftest import (
    DEMO_IMAGES,
    EFFICIENTNET,
    PPOCR_CLS,
    head_parameters,
    normalised,
    ppocr_parameters,
)
from .server_process import ServerProcess, free_port, new_token, write_config

HEAD_UNITS = 20  # 1280 neurons of /_conv_head/Conv in units of 64
KILL_AFTER_NEURONS = 2 * 64


def _units(database) -> dict[str, tuple[int, float]]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT unit, attempt, saved FROM units").fetchall()
    return {unit: (attempt, saved) for unit, attempt, saved in rows}


def _states(database) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT id, state, attempt FROM jobs").fetchall()
    return {job_id: (state, attempt) for job_id, state, attempt in rows}


def test_killed_job_resumes_from_its_finished_units(tmp_path, cli_head_report, ppocr_npz):
    token = new_token()
    (tmp_path / "tokens").write_text(token + "\n")
    state = tmp_path / "state"
    port = free_port()
    config = write_config(tmp_path / "server.toml", state, port, token_file=tmp_path / "tokens",
                          workers=1)
    database = state / "jobs.sqlite3"
    server = ServerProcess(config, port, tmp_path / "server.log", token)

    try:
        server.start()
        with server.client() as client:
            head = nca_pb2.StartAnalysisRequest(
                model_sha256=client.upload_model(EFFICIENTNET).sha256,
                parameters=head_parameters(), model_label=str(EFFICIENTNET),
                data_label=str(DEMO_IMAGES))
            head.data.dataset_sha256 = client.upload_dataset(DEMO_IMAGES).sha256
            queued = nca_pb2.StartAnalysisRequest(
                model_sha256=client.upload_model(PPOCR_CLS).sha256,
                parameters=ppocr_parameters())
            queued.data.dataset_sha256 = client.upload_dataset(ppocr_npz).sha256
            running = client.start(head)
            waiting = client.start(queued)
            for job in client.watch(running.id, timeout_s=120):
                if job.neurons_done >= KILL_AFTER_NEURONS:
                    break
        server.kill(signal.SIGKILL)

        before = _units(database)
        assert _states(database) == {running.id: ("running", 1), waiting.id: ("queued", 0)}
        assert 2 <= len(before) < HEAD_UNITS

        server.start()
        with server.client() as client:
            finals = {job_id: list(client.watch(job_id, timeout_s=120))[-1]
                      for job_id in (running.id, waiting.id)}
            client.download_all(running.id, tmp_path / "out")
    finally:
        server.kill()

    assert {job.state for job in finals.values()} == {nca_pb2.JOB_STATE_SUCCEEDED}
    assert finals[running.id].attempt == 2
    assert {attempt for attempt, _ in before.values()} == {1}
    # Every unit finished before the kill was read back, none computed again.
    log = server.log_text()
    assert f"job {running.id} resumes with {len(before)} finished units" in log
    assert re.search(rf"job {running.id} succeeded in [\d.]+ s \({len(before)} units reused",
                     log)
    assert _units(database) == {}  # dropped once the outputs are stored

    cli_report, cli_out = cli_head_report
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert normalised(report) == normalised(cli_report)
    assert (tmp_path / "out" / "neurons.csv").read_bytes() == \
        (cli_out / "neurons.csv").read_bytes()


def test_sigterm_requeues_the_running_job_and_a_restart_finishes_it(tmp_path):
    token = new_token()
    (tmp_path / "tokens").write_text(token + "\n")
    port = free_port()
    config = write_config(tmp_path / "server.toml", tmp_path / "state", port,
                          token_file=tmp_path / "tokens")
    server = ServerProcess(config, port, tmp_path / "server.log", token)

    try:
        server.start()
        with server.client() as client:
            request = nca_pb2.StartAnalysisRequest(
                model_sha256=client.upload_model(EFFICIENTNET).sha256,
                parameters=head_parameters())
            request.data.dataset_sha256 = client.upload_dataset(DEMO_IMAGES).sha256
            job = client.start(request)
            for event in client.watch(job.id, timeout_s=120):
                if event.neurons_done > 0:
                    break
        server.kill(signal.SIGTERM)
        assert server.process.returncode == 0, server.log_text()
        assert _states(tmp_path / "state" / "jobs.sqlite3")[job.id] == ("queued", 1)

        server.start()
        with server.client() as client:
            final = list(client.watch(job.id, timeout_s=120))[-1]
    finally:
        server.kill()

    assert (final.state, final.attempt) == (nca_pb2.JOB_STATE_SUCCEEDED, 2)
    assert f"job {job.id} interrupted by shutdown" in server.log_text()
