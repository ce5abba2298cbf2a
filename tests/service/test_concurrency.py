"""Sixteen clients at once, each uploading, starting, watching and downloading: none lost."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from nca_onnx.service._proto import nca_pb2

from .conftest import PPOCR_CLS, normalised, ppocr_parameters

CLIENTS = 16


def _one_client(server, ppocr_npz, folder) -> tuple[str, int, dict]:
    with server.client() as client:
        request = nca_pb2.StartAnalysisRequest(
            model_sha256=client.upload_model(PPOCR_CLS).sha256, parameters=ppocr_parameters())
        request.data.dataset_sha256 = client.upload_dataset(ppocr_npz).sha256
        job = client.start(request)
        final = list(client.watch(job.id, timeout_s=150))[-1]
        report = json.loads(client.download(job.id, "report.json", folder / job.id).read_text())
    return job.id, final.state, report


def test_sixteen_clients_at_once_all_complete(server, ppocr_npz, tmp_path):
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda _: _one_client(server, ppocr_npz, tmp_path),
                                range(CLIENTS)))

    ids = {job_id for job_id, _, _ in results}
    assert len(ids) == CLIENTS
    assert [state for _, state, _ in results] == [nca_pb2.JOB_STATE_SUCCEEDED] * CLIENTS
    reports = [normalised(report) for _, _, report in results]
    assert all(report == reports[0] for report in reports)

    with server.client() as client:
        listed = client.list(page_size=500, states=(nca_pb2.JOB_STATE_SUCCEEDED,)).jobs
    assert ids <= {job.id for job in listed}
    assert server.healthy()
