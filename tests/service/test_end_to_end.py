"""A real server and client: the report of a job is the report of `nca-onnx analyze`."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest

from nca_onnx.service._proto import nca_pb2

from .conftest import (
    DEMO_IMAGES,
    EFFICIENTNET,
    HEAD_ARGS,
    PPOCR_CLS,
    normalised,
    ppocr_parameters,
)


def _remote(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nca_onnx", "remote", *map(str, args),
                           "--server", server.target, "--token-file", str(server.token_file)],
                          capture_output=True, text=True, timeout=300)


def _wait(client, job_id: str) -> nca_pb2.Job:
    for job in client.watch(job_id, timeout_s=120):
        last = job
    return last


def _run_ppocr(client, ppocr_npz) -> nca_pb2.Job:
    request = nca_pb2.StartAnalysisRequest(model_sha256=client.upload_model(PPOCR_CLS).sha256,
                                           parameters=ppocr_parameters())
    request.data.dataset_sha256 = client.upload_dataset(ppocr_npz).sha256
    return _wait(client, client.start(request).id)


def test_remote_report_equals_the_local_cli_report(server, cli_head_report, tmp_path):
    cli_report, cli_out = cli_head_report
    out = tmp_path / "remote"

    done = _remote(server, "analyze", EFFICIENTNET, "--data", DEMO_IMAGES, *HEAD_ARGS,
                   "--out", out, "-q")

    assert done.returncode == 0, done.stderr + server.log_text()
    remote = json.loads((out / "report.json").read_text())
    assert normalised(remote) == normalised(cli_report)
    assert remote["model"]["path"] == cli_report["model"]["path"] == str(EFFICIENTNET)
    for name in ("neurons.csv", "layers.csv"):
        assert (out / name).read_bytes() == (cli_out / name).read_bytes(), name


def test_remote_status_and_list_show_the_finished_job(server, tmp_path, ppocr_npz):
    done = _remote(server, "analyze", PPOCR_CLS, "--data", ppocr_npz, "--class", "0",
                   "--min-confidence", "0", "--layers", "MatMul@0", "--out", tmp_path, "-q")
    job_id = re.search(r"job (\w+) queued", done.stderr).group(1)

    status = _remote(server, "status", job_id)
    listed = _remote(server, "list")

    assert done.returncode == 0, done.stderr
    assert status.returncode == 0 and "succeeded" in status.stdout
    assert job_id in listed.stdout


def test_progress_is_streamed_unit_by_unit(server, ppocr_npz):
    with server.client() as client:
        request = nca_pb2.StartAnalysisRequest(
            model_sha256=client.upload_model(PPOCR_CLS).sha256,
            parameters=ppocr_parameters())
        request.data.dataset_sha256 = client.upload_dataset(ppocr_npz).sha256
        events = list(client.watch(client.start(request).id, timeout_s=120))

    states = [event.state for event in events]
    assert states[-1] == nca_pb2.JOB_STATE_SUCCEEDED
    assert nca_pb2.JOB_STATE_RUNNING in states
    done = [event.neurons_done for event in events if event.state == nca_pb2.JOB_STATE_RUNNING]
    assert done == sorted(done) and events[-1].neurons_done == events[-1].neurons_total == 34


def test_server_side_data_set_gives_the_same_tables_as_an_upload(server, ppocr_npz, tmp_path):
    with server.client() as client:
        model = client.upload_model(PPOCR_CLS).sha256
        uploaded = nca_pb2.StartAnalysisRequest(model_sha256=model,
                                                parameters=ppocr_parameters())
        uploaded.data.dataset_sha256 = client.upload_dataset(ppocr_npz).sha256
        named = nca_pb2.StartAnalysisRequest(model_sha256=model, parameters=ppocr_parameters())
        named.data.server_path.root, named.data.server_path.path = "main", "sets/lines.npz"

        jobs = [_wait(client, client.start(request).id) for request in (uploaded, named)]
        outputs = [client.download_all(job.id, tmp_path / job.id) for job in jobs]

    assert [job.state for job in jobs] == [nca_pb2.JOB_STATE_SUCCEEDED] * 2
    assert outputs[0][1].read_bytes() == outputs[1][1].read_bytes()
    report = json.loads(outputs[1][0].read_text())
    assert report["parameters"]["data"] == "main:sets/lines.npz"


def test_a_second_upload_of_the_same_bytes_is_recognised(server, tmp_path):
    from nca_onnx.service.client import _upload_requests

    with server.client() as client:
        first = client.upload_model(PPOCR_CLS)
        again = client.blobs.UploadModel(_upload_requests(PPOCR_CLS, first.sha256, 0),
                                         metadata=client._metadata)
        known = client.blobs.GetBlob(nca_pb2.GetBlobRequest(kind=nca_pb2.BLOB_KIND_MODEL,
                                                            sha256=first.sha256),
                                     metadata=client._metadata)

    assert again.already_stored and known.already_stored
    assert again.sha256 == known.sha256 == first.sha256
    assert known.size_bytes == PPOCR_CLS.stat().st_size


def test_reflection_lists_the_services(server):
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with server.channel() as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        answers = stub.ServerReflectionInfo(
            iter([request]), metadata=(("authorization", f"Bearer {server.token}"),))
        names = {service.name for answer in answers
                 for service in answer.list_services_response.service}

    assert {"nca.v1.Blobs", "nca.v1.Jobs", "grpc.health.v1.Health"} <= names


def test_the_job_log_has_one_line_per_event(server, ppocr_npz):
    with server.client() as client:
        job = _run_ppocr(client, ppocr_npz)

    log = server.log_text()
    for event in ("accepted", "started", "succeeded"):
        assert f"nca_onnx.service.events: job {job.id} {event}" in log, event


@pytest.mark.parametrize("file", [nca_pb2.REPORT_FILE_JSON, nca_pb2.REPORT_FILE_LAYERS_CSV])
def test_report_chunks_carry_name_size_and_digest_first(server, ppocr_npz, file):
    with server.client() as client:
        job = _run_ppocr(client, ppocr_npz)
        chunks = list(client.jobs.GetReport(
            nca_pb2.GetReportRequest(job_id=job.id, file=file),
            metadata=(("authorization", f"Bearer {server.token}"),)))

    data = b"".join(chunk.data for chunk in chunks)
    assert chunks[0].size_bytes == len(data) and chunks[0].filename.endswith(("json", "csv"))
    assert chunks[0].sha256 == hashlib.sha256(data).hexdigest()
