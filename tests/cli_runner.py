"""Run the command line as a user does: a separate process, its exit code and its output."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nca_onnx", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout_s)
