"""Receive a chunked upload, verify its size and SHA-256, check it and store it."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from nca_onnx.errors import CapacityError, DataError, ModelError, ParameterError
from nca_onnx.service._proto import nca_pb2
from nca_onnx.service.archive import check_array_file, extract_tar, extract_zip
from nca_onnx.service.blobs import BlobStore, check_digest
from nca_onnx.service.settings import ServerConfig

__all__ = ["dataset_blob_info", "store_dataset", "store_model"]

logger = logging.getLogger(__name__)

_ARRAY_NAMES = {nca_pb2.DATASET_FORMAT_NPZ: "inputs.npz", nca_pb2.DATASET_FORMAT_NPY: "inputs.npy"}


@dataclass(frozen=True)
class _Received:
    path: Path
    digest: str
    size_bytes: int


def _header(requests: Iterator[nca_pb2.UploadRequest], what: str, limit_bytes: int,
            limit_name: str) -> nca_pb2.UploadHeader:
    first = next(requests, None)
    if first is None or first.WhichOneof("part") != "header":
        raise ParameterError(f"a {what} upload starts with one UploadHeader message (size, "
                             "sha256), followed by the bytes in chunk messages")
    header = first.header
    check_digest(header.sha256, f"the {what}'s header sha256")
    if header.size_bytes < 0:
        raise ParameterError(f"the {what}'s header gives size_bytes {header.size_bytes}; "
                             "give the file's size in bytes")
    if header.size_bytes > limit_bytes:
        raise CapacityError(f"the {what} has {header.size_bytes} bytes, more than this "
                            f"server's limit of {limit_bytes} ({limit_name}); send a smaller "
                            "file or ask the operator to raise the limit")
    return header


def _receive(requests: Iterator[nca_pb2.UploadRequest], header: nca_pb2.UploadHeader,
             what: str, target: Path) -> _Received:
    digest = hashlib.sha256()
    received = 0
    with open(target, "xb") as sink:
        for request in requests:
            if request.WhichOneof("part") != "chunk":
                raise ParameterError(f"the {what} upload sent a second header; send one "
                                     "header, then only chunk messages")
            received += len(request.chunk)
            if received > header.size_bytes:
                raise ParameterError(f"the {what} upload sent more bytes than the "
                                     f"{header.size_bytes} its header announced; send the "
                                     "file's real size")
            digest.update(request.chunk)
            sink.write(request.chunk)
        sink.flush()
        os.fsync(sink.fileno())
    if received != header.size_bytes:
        raise ParameterError(f"the {what} upload ended after {received} of the "
                             f"{header.size_bytes} bytes announced; send the whole file")
    if digest.hexdigest() != header.sha256:
        raise DataError(f"the {what} bytes received have SHA-256 {digest.hexdigest()}, but the "
                        f"header says {header.sha256}; the file changed or was damaged in "
                        "transit, upload it again")
    return _Received(target, header.sha256, received)


def _tensors(graph) -> Iterator:
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)


def _check_model(path: Path) -> None:
    """Refuse what is not a one-file ONNX model; external data could name any server file."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf raises several types on garbage
        raise ModelError(f"the upload is not an ONNX model ({type(error).__name__}); send the "
                         ".onnx file as exported") from error
    if not (proto.graph.node and proto.graph.input and proto.graph.output):
        raise ModelError("the upload parses but holds no graph (no nodes, inputs or outputs); "
                         "send the .onnx file as exported")
    if any(tensor.data_location == onnx.TensorProto.EXTERNAL for tensor in _tensors(proto.graph)):
        raise ModelError("the model keeps weights in external data files, which the service "
                         "cannot receive; save it as one file: onnx.save(onnx.load(path), "
                         "out, save_as_external_data=False)")


def store_model(requests: Iterator[nca_pb2.UploadRequest], blobs: BlobStore,
                config: ServerConfig) -> nca_pb2.BlobInfo:
    """Receive, verify and check an ONNX model, then store it under its SHA-256.

    Raises:
        ParameterError, DataError, ModelError: a malformed, damaged or non-ONNX upload.
        CapacityError: larger than max_model_bytes.
    """
    header = _header(requests, "model", config.max_model_bytes, "max_model_bytes")
    if blobs.model_path(header.sha256).is_file():
        return nca_pb2.BlobInfo(kind=nca_pb2.BLOB_KIND_MODEL, sha256=header.sha256,
                                size_bytes=header.size_bytes, already_stored=True)
    with blobs.scratch() as scratch:
        received = _receive(requests, header, "model", scratch / "model.onnx")
        _check_model(received.path)
        added = blobs.adopt_model(received.path, received.digest)
    if added:
        logger.info("stored model sha256:%s (%d bytes)", received.digest, received.size_bytes)
    return nca_pb2.BlobInfo(kind=nca_pb2.BLOB_KIND_MODEL, sha256=received.digest,
                            size_bytes=received.size_bytes, already_stored=not added)


def _unpack(received: _Received, fmt: int, folder: Path, config: ServerConfig) -> int:
    if fmt in _ARRAY_NAMES:
        check_array_file(received.path, config.max_extracted_bytes)
        os.replace(received.path, folder / _ARRAY_NAMES[fmt])
        return 1
    images = folder / "images"
    images.mkdir()
    extract = extract_tar if fmt == nca_pb2.DATASET_FORMAT_TAR else extract_zip
    files = extract(received.path, images, config.max_extracted_bytes,
                    config.max_archive_members)
    received.path.unlink()
    return files


def dataset_blob_info(digest: str, info: dict, already_stored: bool) -> nca_pb2.BlobInfo:
    """The BlobInfo of a stored data set from its recorded description."""
    return nca_pb2.BlobInfo(kind=nca_pb2.BLOB_KIND_DATASET, sha256=digest,
                            size_bytes=info["size_bytes"], already_stored=already_stored,
                            format=info["format"], files=info["files"])


def store_dataset(requests: Iterator[nca_pb2.UploadRequest], blobs: BlobStore,
                  config: ServerConfig) -> nca_pb2.BlobInfo:
    """Receive and verify a data set, unpack it safely, and store it under its SHA-256.

    Raises:
        ParameterError, DataError: a malformed, damaged or unsafe upload.
        CapacityError: larger than max_dataset_bytes, or unpacks beyond the limits.
    """
    header = _header(requests, "data set", config.max_dataset_bytes, "max_dataset_bytes")
    if header.format not in (*_ARRAY_NAMES, nca_pb2.DATASET_FORMAT_TAR,
                             nca_pb2.DATASET_FORMAT_ZIP):
        raise ParameterError("set the header's format: DATASET_FORMAT_TAR, _ZIP, _NPZ or _NPY")
    if (blobs.dataset_dir(header.sha256) / "dataset.json").is_file():
        return dataset_blob_info(header.sha256, blobs.dataset_info(header.sha256), True)
    with blobs.scratch() as scratch:
        received = _receive(requests, header, "data set", scratch / "upload")
        folder = scratch / "dataset"
        folder.mkdir()
        files = _unpack(received, header.format, folder, config)
        info = {"format": header.format, "files": files, "size_bytes": received.size_bytes}
        added = blobs.adopt_dataset(folder, received.digest, info)
    if added:
        logger.info("stored data set sha256:%s (%d bytes, %d files)", received.digest,
                    received.size_bytes, files)
    return dataset_blob_info(received.digest, info, not added)
