"""Unpack an uploaded data set archive without letting it write outside its folder.

Only regular files and folders are accepted; absolute names, '..', links, devices and
duplicate names are refused, and the member count and the bytes written are bounded
(the bytes actually written, so a lying header cannot inflate past the limit).
"""

from __future__ import annotations

import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterator

import numpy as np

from nca_onnx.errors import CapacityError, DataError

__all__ = ["check_array_file", "extract_tar", "extract_zip"]

_COPY_CHUNK_BYTES = 1 << 20
_MAX_NAME_CHARS = 1024


def _safe_name(name: str) -> PurePosixPath | None:
    """The member's relative path, None for the archive root; DataError if unsafe."""
    if len(name) > _MAX_NAME_CHARS or "\0" in name or "\\" in name:
        raise DataError(f"archive member name '{name[:80]}' is not allowed (too long, NUL or "
                        "backslash); pack the folder with plain relative names")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise DataError(f"archive member '{name}' has an absolute path; pack the folder "
                        "with relative names (tar -C FOLDER -cf data.tar .)")
    if ".." in path.parts:
        raise DataError(f"archive member '{name}' climbs out of the archive with '..'; "
                        "pack the folder with relative names")
    parts = [part for part in path.parts if part not in ("", ".")]
    return PurePosixPath(*parts) if parts else None


class _Budget:
    """Counts members and bytes written against the limits."""

    def __init__(self, max_bytes: int, max_members: int) -> None:
        self.max_bytes, self.max_members = max_bytes, max_members
        self.bytes = self.members = 0
        self.files = 0
        self.names: set[PurePosixPath] = set()

    def admit(self, name: PurePosixPath) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise CapacityError(f"the archive has more than {self.max_members} members, the "
                                "server's limit (max_archive_members); split the data set")
        if name in self.names:
            raise DataError(f"archive member '{name}' appears twice; pack each file once")
        self.names.add(name)

    def spend(self, count: int) -> None:
        self.bytes += count
        if self.bytes > self.max_bytes:
            raise CapacityError(f"the archive unpacks to more than {self.max_bytes} bytes, "
                                "the server's limit (max_extracted_bytes); send fewer images")


def _copy(source: BinaryIO, target: Path, budget: _Budget) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as sink:
        while block := source.read(_COPY_CHUNK_BYTES):
            budget.spend(len(block))
            sink.write(block)
    budget.files += 1


def _tar_members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    while (member := archive.next()) is not None:
        yield member


def extract_tar(archive_path: Path, target: Path, max_bytes: int, max_members: int) -> int:
    """Unpack a tar (plain or gzip) into `target`; returns the number of files written.

    Raises:
        DataError: not a tar archive, or an unsafe or duplicate member.
        CapacityError: too many members or bytes.
    """
    budget = _Budget(max_bytes, max_members)
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            for member in _tar_members(archive):
                name = _safe_name(member.name)
                if not (member.isreg() or member.isdir()):
                    raise DataError(f"archive member '{member.name}' is a link or a special "
                                    "file; archive regular files only")
                if name is None:
                    continue
                budget.admit(name)
                if member.isdir():
                    (target / name).mkdir(parents=True, exist_ok=True)
                    continue
                if member.size > max_bytes - budget.bytes:
                    budget.spend(member.size)  # refused before reading: the header says so
                source = archive.extractfile(member)
                _copy(source, target / name, budget)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"the data set is not a readable tar archive ({error}); send a .tar, "
                        ".tar.gz or .zip of the image folder") from error
    return budget.files


def extract_zip(archive_path: Path, target: Path, max_bytes: int, max_members: int) -> int:
    """Unpack a zip into `target`; returns the number of files written.

    Raises:
        DataError: not a zip archive, or an unsafe or duplicate member.
        CapacityError: too many members or bytes.
    """
    budget = _Budget(max_bytes, max_members)
    try:
        with zipfile.ZipFile(archive_path) as archive:
            for member in archive.infolist():
                name = _safe_name(member.filename)
                kind = stat.S_IFMT(member.external_attr >> 16)
                if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise DataError(f"archive member '{member.filename}' is a link or a "
                                    "special file; archive regular files only")
                if name is None:
                    continue
                budget.admit(name)
                if member.is_dir():
                    (target / name).mkdir(parents=True, exist_ok=True)
                    continue
                if member.file_size > max_bytes - budget.bytes:
                    budget.spend(member.file_size)  # as for tar, refused before reading
                with archive.open(member) as source:
                    _copy(source, target / name, budget)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            OSError) as error:
        raise DataError(f"the data set is not a readable zip archive ({error}); send a .tar, "
                        ".tar.gz or .zip of the image folder") from error
    return budget.files


def check_array_file(path: Path, max_bytes: int) -> None:
    """Check that an .npy/.npz opens without pickles and unpacks within `max_bytes`.

    Raises:
        DataError: not a numpy file, or it holds objects that need pickling.
        CapacityError: an .npz whose arrays unpack to more than `max_bytes`.
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                unpacked = sum(member.file_size for member in archive.infolist())
            if unpacked > max_bytes:
                raise CapacityError(f"the .npz unpacks to {unpacked} bytes, more than the "
                                    f"server's limit of {max_bytes} (max_extracted_bytes)")
            with np.load(path, allow_pickle=False) as arrays:
                for key in arrays.files:
                    arrays[key]
        else:
            np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"the data set is not a readable .npy/.npz without pickled objects "
                        f"({error}); save plain arrays with numpy.save or numpy.savez") from error
