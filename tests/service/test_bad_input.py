"""Bad requests get the right status code and a message that says what to fix; the server
stays up."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nca_onnx.service._proto import nca_pb2

from .conftest import EFFICIENTNET, PPOCR_CLS, ppocr_parameters

Code = grpc.StatusCode
# Codes a malformed or hostile request may get; INTERNAL or UNKNOWN would be a bug.
REFUSALS = {Code.INVALID_ARGUMENT, Code.NOT_FOUND, Code.PERMISSION_DENIED,
            Code.FAILED_PRECONDITION, Code.RESOURCE_EXHAUSTED}


def _upload(bytes_: bytes, sha256: str | None = None, size: int | None = None,
            fmt: int = 0, chunk: int = 1 << 20):
    header = nca_pb2.UploadHeader(size_bytes=len(bytes_) if size is None else size,
                                  sha256=sha256 or hashlib.sha256(bytes_).hexdigest(),
                                  format=fmt)
    yield nca_pb2.UploadRequest(header=header)
    for start in range(0, len(bytes_), chunk):
        yield nca_pb2.UploadRequest(chunk=bytes_[start:start + chunk])


def _refused(call, *args, code: Code, match: str = "", **kwargs) -> str:
    with pytest.raises(grpc.RpcError) as caught:
        result = call(*args, **kwargs)
        if hasattr(result, "__next__"):
            list(result)
    assert caught.value.code() == code, caught.value.details()
    assert match in caught.value.details()
    return caught.value.details()


@pytest.fixture(scope="module")
def stubs(server):
    with server.client() as client:
        client.md = (("authorization", f"Bearer {server.token}"),)
        client.ppocr = client.upload_model(PPOCR_CLS).sha256
        yield client


@pytest.fixture(scope="module")
def lines_sha(stubs, ppocr_npz):
    return stubs.upload_dataset(ppocr_npz).sha256


def _tar_bytes(name: str, content: bytes = b"x", link: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        if link is not None:
            info.type, info.linkname = tarfile.SYMTYPE, link
            archive.addfile(info)
        else:
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


# Uploads

def test_corrupt_model_bytes_are_invalid_argument(stubs):
    _refused(stubs.blobs.UploadModel, _upload(b"\x08\x96\x01garbage" * 100),
             metadata=stubs.md, code=Code.INVALID_ARGUMENT, match="ONNX model")
    truncated = EFFICIENTNET.read_bytes()[:5000]
    _refused(stubs.blobs.UploadModel, _upload(truncated), metadata=stubs.md,
             code=Code.INVALID_ARGUMENT, match="ONNX model")


def test_wrong_checksum_is_invalid_argument(stubs):
    data = PPOCR_CLS.read_bytes()
    details = _refused(stubs.blobs.UploadModel, _upload(data, sha256="0" * 64),
                       metadata=stubs.md, code=Code.INVALID_ARGUMENT, match="SHA-256")
    assert "upload it again" in details


@pytest.mark.parametrize(("size", "match"), [(10, "more bytes than"), (10**6, "ended after")])
def test_size_that_does_not_match_the_header_is_invalid_argument(stubs, size, match):
    data = b"a" * 1000
    _refused(stubs.blobs.UploadModel, _upload(data, size=size), metadata=stubs.md,
             code=Code.INVALID_ARGUMENT, match=match)


def test_upload_without_header_is_invalid_argument(stubs):
    _refused(stubs.blobs.UploadModel, iter([nca_pb2.UploadRequest(chunk=b"abc")]),
             metadata=stubs.md, code=Code.INVALID_ARGUMENT, match="starts with one UploadHeader")


def test_oversized_uploads_are_resource_exhausted(stubs):
    _refused(stubs.blobs.UploadModel, _upload(b"", sha256="a" * 64, size=20_000_001),
             metadata=stubs.md, code=Code.RESOURCE_EXHAUSTED, match="max_model_bytes")
    _refused(stubs.blobs.UploadDataset, _upload(b"", sha256="a" * 64, size=2_000_001, fmt=1),
             metadata=stubs.md, code=Code.RESOURCE_EXHAUSTED, match="max_dataset_bytes")
    # One message above the server's max_message_bytes is refused by gRPC itself.
    _refused(stubs.blobs.UploadModel, _upload(b"x" * 3_000_000, chunk=3_000_000),
             metadata=stubs.md, code=Code.RESOURCE_EXHAUSTED)


def test_zip_bomb_is_resource_exhausted(stubs):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("967/zeros.jpg", b"\0" * 10_000_000)
    _refused(stubs.blobs.UploadDataset, _upload(buffer.getvalue(), fmt=2), metadata=stubs.md,
             code=Code.RESOURCE_EXHAUSTED, match="max_extracted_bytes")


@pytest.mark.parametrize(("archive", "match"), [
    (_tar_bytes("../evil.jpg"), "climbs out"),
    (_tar_bytes("/tmp/evil.jpg"), "absolute path"),
    (_tar_bytes("967/link.jpg", link="/etc/passwd"), "link"),
])
def test_unsafe_archives_are_invalid_argument(stubs, archive, match):
    _refused(stubs.blobs.UploadDataset, _upload(archive, fmt=1), metadata=stubs.md,
             code=Code.INVALID_ARGUMENT, match=match)


def test_model_with_external_data_is_refused(stubs, tmp_path):
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3])], [weight])
    onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"), save_as_external_data=True,
              location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").exists()
    _refused(stubs.blobs.UploadModel, _upload((tmp_path / "m.onnx").read_bytes()),
             metadata=stubs.md, code=Code.INVALID_ARGUMENT, match="external data")


# Names of things

def _start(stubs, model=None, data_sha=None, server_path=None, parameters=None):
    request = nca_pb2.StartAnalysisRequest(model_sha256=model or stubs.ppocr,
                                           parameters=parameters or ppocr_parameters())
    if data_sha:
        request.data.dataset_sha256 = data_sha
    if server_path:
        request.data.server_path.root, request.data.server_path.path = server_path
    return stubs.jobs.StartAnalysis(request, metadata=stubs.md, timeout=30)


def test_unknown_job_is_not_found(stubs):
    for call, request in [(stubs.jobs.GetJob, nca_pb2.GetJobRequest(job_id="feedbeef")),
                          (stubs.jobs.CancelJob, nca_pb2.CancelJobRequest(job_id="feedbeef")),
                          (stubs.jobs.WatchJob, nca_pb2.WatchJobRequest(job_id="feedbeef")),
                          (stubs.jobs.GetReport, nca_pb2.GetReportRequest(job_id="feedbeef"))]:
        _refused(call, request, metadata=stubs.md, code=Code.NOT_FOUND, match="does not exist")
    _refused(stubs.jobs.GetJob, nca_pb2.GetJobRequest(job_id="../x"), metadata=stubs.md,
             code=Code.INVALID_ARGUMENT, match="job_id")


def test_unknown_or_malformed_digests(stubs, lines_sha):
    _refused(_start, stubs, model="c" * 64, data_sha=lines_sha, code=Code.NOT_FOUND,
             match="upload it first")
    _refused(_start, stubs, model="../../etc/passwd", data_sha=lines_sha,
             code=Code.INVALID_ARGUMENT, match="not a SHA-256 digest")
    _refused(_start, stubs, data_sha="d" * 64, code=Code.NOT_FOUND, match="UploadDataset")
    _refused(_start, stubs, code=Code.INVALID_ARGUMENT, match="names no data")


@pytest.mark.parametrize(("root", "path", "code", "match"), [
    ("main", "../secrets", Code.PERMISSION_DENIED, "contains '..'"),
    ("main", "/etc", Code.PERMISSION_DENIED, "outside data root"),
    ("main", "sets/escape", Code.PERMISSION_DENIED, "outside data root"),
    ("main", "sets/mixed", Code.PERMISSION_DENIED, "links outside"),
    ("main", "sets/nothing", Code.NOT_FOUND, "does not exist"),
    ("other", "sets/photos", Code.NOT_FOUND, "not configured"),
])
def test_server_paths_stay_inside_the_data_roots(stubs, root, path, code, match):
    _refused(_start, stubs, server_path=(root, path), code=code, match=match)


# Parameters and state

def test_invalid_parameters_name_the_option(stubs, lines_sha):
    bad_tau = ppocr_parameters()
    bad_tau.tau = 1.5
    no_class = ppocr_parameters()
    del no_class.classes[:]
    too_much_memory = ppocr_parameters()
    too_much_memory.memory_budget_bytes = 2**40

    _refused(_start, stubs, data_sha=lines_sha, parameters=bad_tau,
             code=Code.INVALID_ARGUMENT, match="--tau must lie in [0, 1]")
    _refused(_start, stubs, data_sha=lines_sha, parameters=no_class,
             code=Code.INVALID_ARGUMENT, match="at least one --class")
    _refused(_start, stubs, data_sha=lines_sha, parameters=too_much_memory,
             code=Code.INVALID_ARGUMENT, match="server's limit")


def test_provider_missing_on_the_server_is_failed_precondition(stubs, lines_sha):
    parameters = ppocr_parameters()
    parameters.provider = "tensorrt"

    _refused(_start, stubs, data_sha=lines_sha, parameters=parameters,
             code=Code.FAILED_PRECONDITION, match="provider 'tensorrt'")


def test_a_job_failing_at_run_time_records_why_and_has_no_report(stubs, lines_sha):
    parameters = ppocr_parameters()
    parameters.classes[:] = [7]  # the ppocr classifier has 2 classes

    job = _start(stubs, data_sha=lines_sha, parameters=parameters)
    final = list(stubs.watch(job.id, timeout_s=60))[-1]

    assert final.state == nca_pb2.JOB_STATE_FAILED
    assert final.error.code == "INVALID_ARGUMENT" and "out of range" in final.error.message
    _refused(stubs.jobs.GetReport, nca_pb2.GetReportRequest(job_id=job.id), metadata=stubs.md,
             code=Code.FAILED_PRECONDITION, match="failed, so it has no report")
    _refused(stubs.jobs.CancelJob, nca_pb2.CancelJobRequest(job_id=job.id), metadata=stubs.md,
             code=Code.FAILED_PRECONDITION, match="nothing to cancel")


def test_list_refuses_a_forged_page_token(stubs):
    _refused(stubs.jobs.ListJobs, nca_pb2.ListJobsRequest(page_token="x'; DROP TABLE jobs"),
             metadata=stubs.md, code=Code.INVALID_ARGUMENT, match="page_token")
    _refused(stubs.jobs.ListJobs, nca_pb2.ListJobsRequest(page_size=10_000),
             metadata=stubs.md, code=Code.INVALID_ARGUMENT, match="page_size")


# Credentials

def test_missing_or_wrong_token_is_unauthenticated(server):
    request = nca_pb2.ListJobsRequest()
    for token, match in [(None, "no credentials"), ("x" * 30, "not accepted")]:
        with server.client(token=token) as client:
            _refused(client.jobs.ListJobs, request, code=Code.UNAUTHENTICATED, match=match,
                     metadata=client._metadata)
    with server.client(token=None) as client:
        _refused(client.blobs.UploadModel, _upload(b"abc"), code=Code.UNAUTHENTICATED,
                 metadata=(("authorization", "Basic abc"),))
    assert server.healthy()  # health checks need no token


def test_bytes_that_do_not_parse_are_invalid_argument(stubs):
    call = stubs.channel.unary_unary("/nca.v1.Jobs/GetJob", _registered_method=False)

    _refused(call, b"\xff\xff\xff\xff", metadata=stubs.md, code=Code.INVALID_ARGUMENT,
             match="not a valid nca.v1.GetJobRequest message")


# Property-based: random values and bytes never crash a call or the server

_text = st.text(max_size=40)
_digest = st.one_of(_text, st.text("0123456789abcdef", min_size=64, max_size=64))
_int64 = st.integers(-2**63, 2**63 - 1)
# Each optional field is either left unset (the default) or random, so that some
# requests pass every check and are accepted (and then cancelled).
_parameters = st.fixed_dictionaries(
    {"classes": st.lists(st.one_of(st.integers(0, 1), _int64), max_size=3)},
    optional={"tau": st.floats(allow_nan=True), "min_confidence": st.floats(allow_nan=True),
              "max_images": _int64, "layers": st.lists(_text, max_size=3), "fault": _text,
              "provider": st.sampled_from(["cpu", "auto", "cuda", ""]), "seed": _int64,
              "memory_budget_bytes": _int64, "preset": _text,
              "mean": st.lists(st.floats(), max_size=4), "channel_order": _text,
              "resize": _text, "crosscheck_neurons": _int64},
).map(lambda values: nca_pb2.AnalysisParameters(**values))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(parameters=_parameters, model=st.one_of(st.none(), _digest),
       data=st.one_of(st.none(), _digest), root=_text, path=_text, use_path=st.booleans(),
       label=st.text(max_size=2000))
def test_random_start_requests_are_refused_cleanly(stubs, lines_sha, parameters, model, data,
                                                   root, path, use_path, label):
    # None stands for the stored ppocr model and data set, so that checks past the
    # digests (parameters, labels) are reached too.
    model = stubs.ppocr if model is None else model
    data = lines_sha if data is None else data
    request = nca_pb2.StartAnalysisRequest(model_sha256=model, parameters=parameters,
                                           model_label=label)
    if use_path:
        request.data.server_path.root, request.data.server_path.path = root, path
    else:
        request.data.dataset_sha256 = data
    try:
        job = stubs.jobs.StartAnalysis(request, metadata=stubs.md, timeout=30)
    except grpc.RpcError as error:
        assert error.code() in REFUSALS, (error.code(), error.details())
    else:
        try:
            stubs.cancel(job.id)
        except grpc.RpcError as error:  # it may already have failed on its data
            assert error.code() == Code.FAILED_PRECONDITION, error.details()


_METHODS = ["/nca.v1.Jobs/StartAnalysis", "/nca.v1.Jobs/GetJob", "/nca.v1.Jobs/ListJobs",
            "/nca.v1.Jobs/CancelJob", "/nca.v1.Blobs/GetBlob"]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(_METHODS), payload=st.binary(max_size=300))
def test_random_bytes_as_a_request_are_invalid_argument_or_handled(stubs, method, payload):
    call = stubs.channel.unary_unary(method, _registered_method=False)
    try:
        call(payload, metadata=stubs.md, timeout=30)
    except grpc.RpcError as error:
        assert error.code() in REFUSALS, (error.code(), error.details())


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(["UploadModel", "UploadDataset"]),
       size=st.integers(-2**63, 2**63 - 1), digest=_digest, fmt=st.integers(0, 2**31 - 1),
       chunks=st.lists(st.binary(max_size=2000), max_size=4), header_first=st.booleans())
def test_random_upload_streams_are_refused_cleanly(stubs, kind, size, digest, fmt, chunks,
                                                   header_first):
    header = nca_pb2.UploadRequest(
        header=nca_pb2.UploadHeader(size_bytes=size, sha256=digest, format=fmt))
    parts = [nca_pb2.UploadRequest(chunk=chunk) for chunk in chunks]
    messages = [header, *parts] if header_first else [*parts, header]
    try:
        getattr(stubs.blobs, kind)(iter(messages), metadata=stubs.md, timeout=30)
    except grpc.RpcError as error:
        assert error.code() in REFUSALS, (error.code(), error.details())


def test_server_is_still_healthy_after_all_of_this(server):
    assert server.healthy()
    assert server.process.poll() is None
    assert "Traceback" not in server.log_text()
