"""Write output files so that an interrupted run never leaves a file that looks complete."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

__all__ = ["write_json", "write_csv"]


def _replace(path: Path, write) -> None:
    partial = path.with_name(path.name + ".partial")
    write(partial)
    os.replace(partial, path)


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically (a .partial file renamed into place)."""
    _replace(path, lambda target: target.write_text(json.dumps(data, indent=1) + "\n"))


def write_csv(path: Path, table: pd.DataFrame) -> None:
    """Write CSV atomically, without the index."""
    _replace(path, lambda target: table.to_csv(target, index=False))
