"""Content-addressed files on disk: models, unpacked data sets and job outputs.

Layout under the state folder: models/<sha256>.onnx, datasets/<sha256>/ (an images/
folder or inputs.npz / inputs.npy, plus dataset.json), outputs/<sha256>, and tmp/ for
uploads in flight. Files appear by rename, so a crash never leaves a half file under
its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from nca_onnx.errors import NotFoundError, ParameterError

__all__ = ["BlobStore", "check_digest"]

_DIGEST = re.compile(r"[0-9a-f]{64}")
_DATASET_META = "dataset.json"
_IMAGES = "images"


def check_digest(digest: str, what: str = "sha256") -> str:
    """The digest if it is 64 lowercase hex digits.

    Raises:
        ParameterError: anything else (which also keeps digests from naming paths).
    """
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        shown = digest[:80] if isinstance(digest, str) else type(digest).__name__
        raise ParameterError(f"{what} '{shown}' is not a SHA-256 digest; give 64 lowercase "
                             "hex digits (hashlib.sha256(data).hexdigest())")
    return digest


class BlobStore:
    """The state folder's files; digests are checked before they become paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._adopting = threading.Lock()
        for name in ("models", "datasets", "outputs", "tmp"):
            (root / name).mkdir(parents=True, exist_ok=True)

    def clean_scratch(self) -> None:
        """Remove uploads a crash left half-received."""
        for leftover in (self.root / "tmp").iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A fresh folder on the same file system, removed afterwards."""
        folder = Path(tempfile.mkdtemp(dir=self.root / "tmp"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # Models

    def model_path(self, digest: str) -> Path:
        return self.root / "models" / f"{check_digest(digest, 'model sha256')}.onnx"

    def require_model(self, digest: str) -> Path:
        """The stored model's path.

        Raises:
            ParameterError: not a digest. NotFoundError: no such model.
        """
        path = self.model_path(digest)
        if not path.is_file():
            raise NotFoundError(f"model sha256:{digest} is not stored on this server; upload "
                                "it first (UploadModel)")
        return path

    def adopt_model(self, received: Path, digest: str) -> bool:
        """Move a checked upload into place; False if the model was there already."""
        target = self.model_path(digest)
        with self._adopting:
            if target.is_file():
                return False
            os.replace(received, target)
        return True

    # Data sets

    def dataset_dir(self, digest: str) -> Path:
        return self.root / "datasets" / check_digest(digest, "dataset sha256")

    def dataset_info(self, digest: str) -> dict:
        """What dataset.json records of a stored data set: format, files, size_bytes.

        Raises:
            ParameterError: not a digest. NotFoundError: no such data set.
        """
        meta = self.dataset_dir(digest) / _DATASET_META
        if not meta.is_file():
            raise NotFoundError(f"data set sha256:{digest} is not stored on this server; "
                                "upload it first (UploadDataset)")
        return json.loads(meta.read_text())

    def dataset_input(self, digest: str) -> Path:
        """The path to hand to the analysis: the image folder or the array file.

        An image archive whose only entry is a folder not named like a class index
        (for example `demo_images/`) is read from inside that folder.
        """
        self.dataset_info(digest)
        folder = self.dataset_dir(digest)
        for name in ("inputs.npz", "inputs.npy"):
            if (folder / name).is_file():
                return folder / name
        images = folder / _IMAGES
        entries = list(images.iterdir())
        if len(entries) == 1 and entries[0].is_dir() and not entries[0].name.isdigit():
            return entries[0]
        return images

    def adopt_dataset(self, unpacked: Path, digest: str, info: dict) -> bool:
        """Move a checked, unpacked data set into place; False if it was there already.

        `unpacked` holds `images/` or `inputs.npz`/`inputs.npy`.
        """
        target = self.dataset_dir(digest)
        (unpacked / _DATASET_META).write_text(json.dumps(info))
        with self._adopting:
            if (target / _DATASET_META).is_file():
                return False
            shutil.rmtree(target, ignore_errors=True)  # a folder left without its metadata
            os.replace(unpacked, target)
        return True

    # Job outputs

    def put_output(self, source: Path) -> str:
        """Store a finished output file by content; returns its SHA-256."""
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        target = self.output_path(digest)
        with self._adopting:
            if not target.is_file():
                staged = self.root / "tmp" / f"{digest}.partial"
                shutil.copyfile(source, staged)
                with open(staged, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(staged, target)
        return digest

    def output_path(self, digest: str) -> Path:
        return self.root / "outputs" / check_digest(digest, "output sha256")
