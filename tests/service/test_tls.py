"""TLS with a self-signed certificate: TLS clients succeed, plaintext ones cannot connect."""

from __future__ import annotations

import shutil
import subprocess

import grpc
import pytest

from nca_onnx.service._proto import nca_pb2

from .conftest import PPOCR_CLS, ppocr_parameters
from .server_process import ServerProcess, free_port, new_token, write_config


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for localhost and 127.0.0.1, made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "server.crt", folder / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_tls_job_runs_and_plaintext_is_refused(tmp_path, certificate, ppocr_npz):
    token = new_token()
    (tmp_path / "tokens").write_text(token)
    port = free_port()
    config = write_config(tmp_path / "server.toml", tmp_path / "state", port,
                          token_file=tmp_path / "tokens", tls=certificate)

    with ServerProcess(config, port, tmp_path / "server.log", token,
                       tls_ca=certificate[0]) as server:
        with server.client() as client:
            request = nca_pb2.StartAnalysisRequest(
                model_sha256=client.upload_model(PPOCR_CLS).sha256,
                parameters=ppocr_parameters())
            request.data.dataset_sha256 = client.upload_dataset(ppocr_npz).sha256
            job = client.start(request)
            final = list(client.watch(job.id, timeout_s=60))[-1]
            written = client.download_all(job.id, tmp_path / "out")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as plain:
            with pytest.raises(grpc.RpcError) as refused:
                nca_pb2_grpc_stub(plain).ListJobs(nca_pb2.ListJobsRequest(), timeout=5)

    assert final.state == nca_pb2.JOB_STATE_SUCCEEDED
    assert [path.name for path in written] == ["report.json", "neurons.csv", "layers.csv"]
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "(TLS, token authentication)" in server.log_text()


def nca_pb2_grpc_stub(channel):
    from nca_onnx.service._proto import nca_pb2_grpc

    return nca_pb2_grpc.JobsStub(channel)
