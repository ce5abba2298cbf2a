"""Tokens come from a file and an environment variable, and must be long enough."""

from __future__ import annotations

import pytest

from nca_onnx.errors import ParameterError
from nca_onnx.service.auth import load_tokens

LONG = "a" * 20


def test_reads_tokens_from_the_file_and_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "tokens"
    path.write_text(f"# operators\n{LONG}\n\n{'b' * 20}  # ci\n")
    monkeypatch.setenv("TEST_NCA_TOKENS", f"{'c' * 20},{'d' * 20}")

    tokens = load_tokens(path, "TEST_NCA_TOKENS")

    assert tokens == {LONG, "b" * 20, "c" * 20, "d" * 20}


def test_no_file_and_no_variable_gives_no_tokens(monkeypatch):
    monkeypatch.delenv("TEST_NCA_TOKENS", raising=False)

    assert load_tokens(None, "TEST_NCA_TOKENS") == frozenset()


def test_refuses_short_tokens(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("short\n")

    with pytest.raises(ParameterError, match="use at least 16"):
        load_tokens(path, "TEST_NCA_TOKENS")


def test_an_unreadable_file_says_so(tmp_path):
    with pytest.raises(ParameterError, match="cannot be read"):
        load_tokens(tmp_path / "missing", "TEST_NCA_TOKENS")
