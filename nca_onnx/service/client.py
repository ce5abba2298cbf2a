"""A client of the nca.v1 service: connect, upload, start, watch and download.

Used by `nca-onnx remote`, the service tests and the benchmark.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Iterator

import grpc

from nca_onnx.errors import DataError, ModelError, ParameterError
from nca_onnx.service._proto import nca_pb2, nca_pb2_grpc

__all__ = ["CHUNK_BYTES", "NcaClient", "dataset_format", "pack_folder"]

logger = logging.getLogger(__name__)

CHUNK_BYTES = 512 * 1024  # well under the smallest max_message_bytes a server allows
_FORMATS = {".tar": nca_pb2.DATASET_FORMAT_TAR, ".tgz": nca_pb2.DATASET_FORMAT_TAR,
            ".gz": nca_pb2.DATASET_FORMAT_TAR, ".zip": nca_pb2.DATASET_FORMAT_ZIP,
            ".npz": nca_pb2.DATASET_FORMAT_NPZ, ".npy": nca_pb2.DATASET_FORMAT_NPY}
_FILES = {"report.json": nca_pb2.REPORT_FILE_JSON,
          "neurons.csv": nca_pb2.REPORT_FILE_NEURONS_CSV,
          "layers.csv": nca_pb2.REPORT_FILE_LAYERS_CSV,
          "stability.csv": nca_pb2.REPORT_FILE_STABILITY_CSV}
_OPTIONAL_FILES = {"stability.csv"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def dataset_format(path: Path) -> int:
    """The DatasetFormat of an archive or array file, from its name.

    Raises:
        DataError: a name the service does not read.
    """
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None or (path.suffix.lower() == ".gz" and not path.name.endswith(".tar.gz")):
        raise DataError(f"'{path}' is not a folder, .tar, .tar.gz, .zip, .npz or .npy; "
                        "pass one of those as --data")
    return fmt


def pack_folder(folder: Path, target: Path) -> None:
    """Write the folder's regular files to an uncompressed tar with relative names.

    The archive depends only on names and contents (times, owners and modes are
    fixed), so packing the same folder twice gives the same SHA-256 and the server
    recognises it. Links are skipped with a warning: the server refuses them.
    """
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                logger.warning("skipped link %s: the service accepts regular files only", path)
                continue
            if not path.is_file():
                continue
            info = tarfile.TarInfo(relative)
            info.size = path.stat().st_size
            info.mode, info.mtime = 0o644, 0
            with open(path, "rb") as source:
                archive.addfile(info, source)


def _upload_requests(path: Path, digest: str, fmt: int) -> Iterator[nca_pb2.UploadRequest]:
    header = nca_pb2.UploadHeader(size_bytes=path.stat().st_size, sha256=digest, format=fmt)
    yield nca_pb2.UploadRequest(header=header)
    with open(path, "rb") as source:
        while block := source.read(CHUNK_BYTES):
            yield nca_pb2.UploadRequest(chunk=block)


class NcaClient:
    """One channel to a server, with the token sent on every call.

    `tls_ca` (a PEM file) or `tls=True` (the system's roots) switches TLS on;
    `server_name` overrides the name checked in the server's certificate.
    """

    def __init__(self, target: str, token: str | None = None, *, tls: bool = False,
                 tls_ca: Path | None = None, server_name: str | None = None,
                 max_message_bytes: int = 4 * 2**20, timeout_s: float = 60.0) -> None:
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if tls or tls_ca is not None:
            roots = tls_ca.read_bytes() if tls_ca is not None else None
            self.channel = grpc.secure_channel(
                target, grpc.ssl_channel_credentials(root_certificates=roots), options)
        else:
            self.channel = grpc.insecure_channel(target, options)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self.timeout_s = timeout_s
        self.blobs = nca_pb2_grpc.BlobsStub(self.channel)
        self.jobs = nca_pb2_grpc.JobsStub(self.channel)

    def __enter__(self) -> NcaClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def wait_ready(self, timeout_s: float) -> None:
        """Block until the channel connects. Raises grpc.FutureTimeoutError."""
        grpc.channel_ready_future(self.channel).result(timeout=timeout_s)

    def _has(self, kind: int, digest: str) -> nca_pb2.BlobInfo | None:
        try:
            return self.blobs.GetBlob(nca_pb2.GetBlobRequest(kind=kind, sha256=digest),
                                      metadata=self._metadata, timeout=self.timeout_s)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def upload_model(self, path: Path) -> nca_pb2.BlobInfo:
        """Upload an .onnx file unless the server has it already.

        Raises:
            ModelError: the file does not exist.
        """
        if not path.is_file():
            raise ModelError(f"model file '{path}' does not exist; pass the path of an .onnx "
                             "file")
        digest = _sha256(path)
        known = self._has(nca_pb2.BLOB_KIND_MODEL, digest)
        if known is not None:
            return known
        return self.blobs.UploadModel(_upload_requests(path, digest, 0),
                                      metadata=self._metadata)

    def upload_dataset(self, path: Path) -> nca_pb2.BlobInfo:
        """Upload a folder (packed as tar), an archive or an array file, unless known."""
        if not path.exists():
            raise DataError(f"data path '{path}' does not exist")
        if not path.is_dir():
            return self._upload_file(path, dataset_format(path))
        with tempfile.TemporaryDirectory() as scratch:
            packed = Path(scratch) / "data.tar"
            pack_folder(path, packed)
            return self._upload_file(packed, nca_pb2.DATASET_FORMAT_TAR)

    def _upload_file(self, path: Path, fmt: int) -> nca_pb2.BlobInfo:
        digest = _sha256(path)
        known = self._has(nca_pb2.BLOB_KIND_DATASET, digest)
        if known is not None:
            return known
        return self.blobs.UploadDataset(_upload_requests(path, digest, fmt),
                                        metadata=self._metadata)

    def start(self, request: nca_pb2.StartAnalysisRequest) -> nca_pb2.Job:
        return self.jobs.StartAnalysis(request, metadata=self._metadata, timeout=self.timeout_s)

    def get(self, job_id: str) -> nca_pb2.Job:
        return self.jobs.GetJob(nca_pb2.GetJobRequest(job_id=job_id), metadata=self._metadata,
                                timeout=self.timeout_s)

    def list(self, page_size: int = 50, page_token: str = "",
             states: tuple[int, ...] = ()) -> nca_pb2.ListJobsResponse:
        return self.jobs.ListJobs(nca_pb2.ListJobsRequest(page_size=page_size,
                                                          page_token=page_token, states=states),
                                  metadata=self._metadata, timeout=self.timeout_s)

    def cancel(self, job_id: str) -> nca_pb2.Job:
        return self.jobs.CancelJob(nca_pb2.CancelJobRequest(job_id=job_id),
                                   metadata=self._metadata, timeout=self.timeout_s)

    def watch(self, job_id: str, timeout_s: float | None = None) -> Iterator[nca_pb2.Job]:
        """The job after every change until it ends (the stream closes then)."""
        return self.jobs.WatchJob(nca_pb2.WatchJobRequest(job_id=job_id),
                                  metadata=self._metadata, timeout=timeout_s)

    def download(self, job_id: str, name: str, target: Path) -> Path:
        """Write one output file (report.json, neurons.csv, ...) atomically.

        Raises:
            ParameterError: an unknown file name. DataError: the bytes do not match
            the SHA-256 the server announced.
        """
        if name not in _FILES:
            raise ParameterError(f"'{name}' is not an output; use {', '.join(_FILES)}")
        chunks = self.jobs.GetReport(nca_pb2.GetReportRequest(job_id=job_id, file=_FILES[name]),
                                     metadata=self._metadata, timeout=self.timeout_s)
        buffer = io.BytesIO()
        expected = None
        for chunk in chunks:
            if expected is None:
                expected = chunk.sha256
            buffer.write(chunk.data)
        data = buffer.getvalue()
        if hashlib.sha256(data).hexdigest() != expected:
            raise DataError(f"{name} of job {job_id} arrived damaged (SHA-256 mismatch); "
                            "download it again")
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, target)
        return target

    def download_all(self, job_id: str, folder: Path) -> list[Path]:
        """Every output of a succeeded job into `folder`: report.json, neurons.csv,
        layers.csv, and stability.csv when the report has stability results."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in _FILES:
            try:
                written.append(self.download(job_id, name, folder / name))
            except grpc.RpcError as error:
                if name not in _OPTIONAL_FILES or error.code() != grpc.StatusCode.NOT_FOUND:
                    raise
        return written
