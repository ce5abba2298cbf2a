"""The server refuses to start when it would be unsafe, and says what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .server_process import free_port


def _serve(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if key != "NCA_ONNX_TOKENS"} | (env or {})
    return subprocess.run([sys.executable, "-m", "nca_onnx", "serve", *args],
                          capture_output=True, text=True, timeout=60, env=environment)


def test_refuses_to_start_without_tokens(tmp_path):
    done = _serve("--state-dir", str(tmp_path), "--port", str(free_port()))

    assert done.returncode == 2
    assert "no access tokens" in done.stderr and "--insecure-no-auth" in done.stderr


def test_refuses_no_auth_on_a_public_address(tmp_path):
    done = _serve("--state-dir", str(tmp_path), "--host", "0.0.0.0", "--insecure-no-auth")

    assert done.returncode == 2
    assert "for local use only" in done.stderr


@pytest.mark.parametrize(("args", "match"), [
    (("--tls-cert", "missing.crt"), "both a certificate and its key"),
    (("--data-root", "nonsense"), "NAME=FOLDER"),
])
def test_refuses_unusable_flags(tmp_path, args, match):
    done = _serve("--state-dir", str(tmp_path), *args)

    assert done.returncode == 2
    assert match in done.stderr


def test_refuses_a_token_that_is_too_short(tmp_path):
    done = _serve("--state-dir", str(tmp_path), env={"NCA_ONNX_TOKENS": "abc"})

    assert done.returncode == 2
    assert "use at least 16" in done.stderr


def test_the_deployment_script_runs_the_serve_command(tmp_path):
    script = Path(__file__).resolve().parents[2] / "server" / "serve.py"
    environment = {key: value for key, value in os.environ.items() if key != "NCA_ONNX_TOKENS"}

    done = subprocess.run([sys.executable, str(script), "--state-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, env=environment)

    assert done.returncode == 2
    assert "no access tokens" in done.stderr
