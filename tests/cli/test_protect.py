"""`nca-onnx protect`: write a manifest, check a model against it, name changed neurons."""

from __future__ import annotations

import json

import pytest
from cli_runner import run_cli
from evidence_runs import demo_run, model_with_flipped_filter


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


@pytest.fixture(scope="module")
def manifest(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("protect") / "manifest.json"
    result = run_cli("protect", run.report_path, "--model", run.model, "--top", "4",
                     "--out", path)
    return result, path


def test_writes_a_manifest_and_passes_the_same_model(run, manifest):
    written, path = manifest

    checked = run_cli("protect", "--check", path, "--model", run.model)

    assert written.returncode == 0, written.stderr
    assert "checksums of" in written.stdout
    assert len(json.loads(path.read_text())["neurons"]) >= 4
    assert checked.returncode == 0, checked.stderr
    assert "intact" in checked.stdout


def test_a_flipped_weight_byte_exits_1_naming_the_neuron(run, manifest, tmp_path):
    _, manifest = manifest
    changed = model_with_flipped_filter(run.model, "/_fc/Gemm", 872, tmp_path / "m.onnx")

    result = run_cli("protect", "--check", manifest, "--model", changed)

    assert result.returncode == 1
    assert "/_fc/Gemm[872] weight changed" in result.stderr
    assert "/_fc/Gemm[967]" not in result.stderr


def test_without_report_or_manifest_exits_2(run):
    result = run_cli("protect", "--model", run.model)

    assert result.returncode == 2
    assert "pass the report.json to protect, or --check MANIFEST" in result.stderr
