"""A bounded queue: one worker, one waiting job, the next refused; cancellation is cooperative."""

from __future__ import annotations

import grpc
import pytest

from nca_onnx.service._proto import nca_pb2

from .conftest import DEMO_IMAGES, EFFICIENTNET, head_parameters
from .server_process import ServerProcess, free_port, new_token, write_config


@pytest.fixture
def small_server(tmp_path):
    token = new_token()
    (tmp_path / "tokens").write_text(token)
    port = free_port()
    config = write_config(tmp_path / "server.toml", tmp_path / "state", port,
                          token_file=tmp_path / "tokens", workers=1, max_queued_jobs=1)
    with ServerProcess(config, port, tmp_path / "server.log", token) as server:
        yield server


def test_full_queue_is_resource_exhausted_and_jobs_cancel(small_server):
    with small_server.client() as client:
        request = nca_pb2.StartAnalysisRequest(
            model_sha256=client.upload_model(EFFICIENTNET).sha256,
            parameters=head_parameters())
        request.data.dataset_sha256 = client.upload_dataset(DEMO_IMAGES).sha256

        running = client.start(request)
        for job in client.watch(running.id, timeout_s=60):
            if job.state == nca_pb2.JOB_STATE_RUNNING:
                break
        waiting = client.start(request)
        with pytest.raises(grpc.RpcError) as refused:
            client.start(request)

        cancelled_waiting = client.cancel(waiting.id)
        client.cancel(running.id)
        final = list(client.watch(running.id, timeout_s=60))[-1]

    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "queue is full" in refused.value.details()
    assert cancelled_waiting.state == nca_pb2.JOB_STATE_CANCELLED
    assert final.state == nca_pb2.JOB_STATE_CANCELLED
    assert 0 < final.neurons_done < final.neurons_total
    assert f"job {running.id} cancelled after" in small_server.log_text()
