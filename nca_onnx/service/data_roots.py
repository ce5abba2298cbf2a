"""Resolve a data set named on the server, allowing only paths inside the data roots.

The path is resolved (symbolic links followed) before it is checked, and every link
inside a data-set folder is checked too, so no link leads a job outside its root.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from nca_onnx.errors import AccessError, NotFoundError, ParameterError

__all__ = ["resolve_server_path"]

MAX_ENTRIES_CHECKED = 1_000_000


def _pick_root(roots: dict[str, Path], name: str) -> tuple[str, Path]:
    if not roots:
        raise AccessError("this server has no data roots, so it reads no server-side data; "
                          "upload the data set instead (UploadDataset)")
    if not name:
        if len(roots) == 1:
            return next(iter(roots.items()))
        raise ParameterError(f"this server has several data roots ({', '.join(sorted(roots))});"
                             " name one in server_path.root")
    if name not in roots:
        raise NotFoundError(f"data root '{name}' is not configured; this server has "
                            f"{', '.join(sorted(roots))}")
    return name, roots[name]


def _check_links(folder: Path, root: Path, root_name: str) -> None:
    checked = 0
    for current, folders, files in os.walk(folder, followlinks=False):
        for entry in (*folders, *files):
            checked += 1
            if checked > MAX_ENTRIES_CHECKED:
                raise AccessError(f"'{folder}' holds more than {MAX_ENTRIES_CHECKED} entries; "
                                  "name a smaller folder")
            path = Path(current) / entry
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise AccessError(f"'{path.relative_to(folder)}' in the data set links outside "
                                  f"data root '{root_name}'; remove the link or copy the file")


def resolve_server_path(roots: dict[str, Path], root_name: str, path: str) -> Path:
    """The real path of `path` (relative to the root, or absolute inside it).

    Raises:
        AccessError: '..', or a path or link that resolves outside the root.
        NotFoundError: unknown root, or nothing at the path.
        ParameterError: an unusable name.
    """
    name, root = _pick_root(roots, root_name)
    if "\0" in path:
        raise ParameterError("server_path.path contains a NUL character")
    if ".." in PurePosixPath(path).parts:
        raise AccessError(f"server_path.path '{path}' contains '..'; name a path inside data "
                          f"root '{name}'")
    real_root = root.resolve()
    candidate = Path(path) if PurePosixPath(path).is_absolute() else root / path
    real = candidate.resolve()
    if not real.is_relative_to(real_root):
        raise AccessError(f"server_path.path '{path}' lies outside data root '{name}'; name a "
                          "path inside it")
    if not real.exists():
        raise NotFoundError(f"'{path}' does not exist in data root '{name}'")
    if real.is_dir():
        _check_links(real, real_root, name)
    return real
