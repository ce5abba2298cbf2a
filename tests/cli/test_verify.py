"""`nca-onnx verify` as a user runs it: exit 0 when intact, 1 naming a change, 2 on bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_runner import run_cli
from evidence_runs import demo_run, flip_bit_at


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


def test_an_intact_report_verifies_and_prints_the_largest_deviation(run):
    result = run_cli("verify", run.report_path, "--model", run.model, "--data", run.data,
                     "--sample", "2", "--seed", "3")

    assert result.returncode == 0, result.stderr
    assert "largest deviation" in result.stdout and "(tolerance 1e-05)" in result.stdout
    assert "verified" in result.stdout


def test_a_changed_report_exits_1_naming_the_digest(run, tmp_path):
    report = run.report()
    report["results"][1]["neurons"][0]["max"] = 0.5
    changed = tmp_path / "report.json"
    changed.write_text(json.dumps(report, indent=1))

    result = run_cli("verify", changed, "--model", run.model, "--data", run.data, "-q")

    assert result.returncode == 1
    assert "check failed: 1 check(s) failed: digest" in result.stderr


def test_a_changed_image_exits_1_naming_the_image(run, tmp_path):
    data = shutil.copytree(run.data, tmp_path / "images")
    image = data / "967" / "coffee_mirror.jpg"
    image.write_bytes(flip_bit_at(image.read_bytes(), 1000))

    result = run_cli("verify", run.report_path, "--model", run.model, "--data", data, "-q")

    assert result.returncode == 1
    assert "image 967/coffee_mirror.jpg: sha256" in result.stderr


def test_a_file_that_is_not_a_report_exits_2(tmp_path):
    broken = tmp_path / "report.json"
    broken.write_text("{not json")

    result = run_cli("verify", broken, "--model", "m.onnx", "--data", "images")

    assert result.returncode == 2
    assert "is not valid JSON" in result.stderr
