"""The nca.v1 Blobs and Jobs services: thin methods that check a request and delegate."""

from __future__ import annotations

from typing import Iterator

from nca_onnx.errors import NotFoundError, ParameterError
from nca_onnx.service._proto import nca_pb2
from nca_onnx.service.blobs import BlobStore
from nca_onnx.service.convert import STATE_NAMES
from nca_onnx.service.jobs import JobManager
from nca_onnx.service.runner import OUTPUT_FILES
from nca_onnx.service.settings import ServerConfig
from nca_onnx.service.uploads import dataset_blob_info, store_dataset, store_model

__all__ = ["BlobsServicer", "JobsServicer"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Leaves room for the message's other fields under the message size limit.
_CHUNK_HEADROOM_BYTES = 4096
_MAX_CHUNK_BYTES = 1 << 20
_STATE_BY_VALUE = {value: name for name, value in STATE_NAMES.items()}
_MAX_JOB_ID_CHARS = 64


def _job_id(value: str) -> str:
    if not value or len(value) > _MAX_JOB_ID_CHARS or not value.isalnum():
        raise ParameterError("job_id must be a job's id as StartAnalysis or ListJobs returned "
                             "it (letters and digits)")
    return value


class BlobsServicer:
    """Uploads, stored content-addressed; see protos/nca/v1/nca.proto."""

    def __init__(self, blobs: BlobStore, settings: ServerConfig) -> None:
        self._blobs = blobs
        self._settings = settings

    def UploadModel(self, requests, context) -> nca_pb2.BlobInfo:
        return store_model(requests, self._blobs, self._settings)

    def UploadDataset(self, requests, context) -> nca_pb2.BlobInfo:
        return store_dataset(requests, self._blobs, self._settings)

    def GetBlob(self, request: nca_pb2.GetBlobRequest, context) -> nca_pb2.BlobInfo:
        if request.kind == nca_pb2.BLOB_KIND_MODEL:
            path = self._blobs.require_model(request.sha256)
            return nca_pb2.BlobInfo(kind=request.kind, sha256=request.sha256,
                                    size_bytes=path.stat().st_size, already_stored=True)
        if request.kind == nca_pb2.BLOB_KIND_DATASET:
            return dataset_blob_info(request.sha256, self._blobs.dataset_info(request.sha256),
                                     True)
        raise ParameterError("set kind to BLOB_KIND_MODEL or BLOB_KIND_DATASET")


class JobsServicer:
    """Analysis jobs; see protos/nca/v1/nca.proto."""

    def __init__(self, jobs: JobManager, blobs: BlobStore, settings: ServerConfig) -> None:
        self._jobs = jobs
        self._blobs = blobs
        self._chunk_bytes = min(_MAX_CHUNK_BYTES,
                                settings.max_message_bytes - _CHUNK_HEADROOM_BYTES)

    def StartAnalysis(self, request: nca_pb2.StartAnalysisRequest, context) -> nca_pb2.Job:
        return self._jobs.submit(request)

    def GetJob(self, request: nca_pb2.GetJobRequest, context) -> nca_pb2.Job:
        return self._jobs.get(_job_id(request.job_id))

    def WatchJob(self, request: nca_pb2.WatchJobRequest, context) -> Iterator[nca_pb2.Job]:
        return self._jobs.watch(_job_id(request.job_id), context.is_active)

    def ListJobs(self, request: nca_pb2.ListJobsRequest, context) -> nca_pb2.ListJobsResponse:
        size = request.page_size or DEFAULT_PAGE_SIZE
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise ParameterError(f"page_size must lie in 1..{MAX_PAGE_SIZE}, got {size}")
        unknown = [state for state in request.states if state not in _STATE_BY_VALUE]
        if unknown:
            raise ParameterError(f"states holds {unknown[0]}, which is not a job state; use "
                                 "JOB_STATE_QUEUED, _RUNNING, _SUCCEEDED, _FAILED or _CANCELLED")
        before = None
        if request.page_token:
            if not request.page_token.isdigit() or len(request.page_token) > 18:
                raise ParameterError("page_token must be the next_page_token of the previous "
                                     "page, unchanged")
            before = int(request.page_token)
        states = tuple(_STATE_BY_VALUE[state] for state in request.states)
        jobs, next_seq = self._jobs.page(states, before, size)
        return nca_pb2.ListJobsResponse(jobs=jobs, next_page_token=str(next_seq or ""))

    def CancelJob(self, request: nca_pb2.CancelJobRequest, context) -> nca_pb2.Job:
        return self._jobs.cancel(_job_id(request.job_id))

    def GetReport(self, request: nca_pb2.GetReportRequest,
                  context) -> Iterator[nca_pb2.ReportChunk]:
        name = OUTPUT_FILES.get(request.file or nca_pb2.REPORT_FILE_JSON)
        if name is None:
            raise ParameterError("file must be REPORT_FILE_JSON, _NEURONS_CSV or _LAYERS_CSV")
        digest = self._jobs.outputs(_job_id(request.job_id)).get(name)
        if digest is None:
            raise NotFoundError(f"job {request.job_id} has no {name}")
        path = self._blobs.output_path(digest)
        first = True
        with open(path, "rb") as source:
            while (block := source.read(self._chunk_bytes)) or first:
                chunk = nca_pb2.ReportChunk(data=block)
                if first:
                    # Content-addressed: the file's name in the store is its SHA-256.
                    chunk.filename, chunk.sha256 = name, digest
                    chunk.size_bytes = path.stat().st_size
                    first = False
                yield chunk
