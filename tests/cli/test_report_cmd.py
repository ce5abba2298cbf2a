"""`nca-onnx report`: HTML and tables from a checked report; refuses changed reports."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from cli_runner import run_cli
from evidence_runs import demo_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


def test_writes_the_page_and_parquet_tables(run, tmp_path):
    page = tmp_path / "page.html"

    result = run_cli("report", run.report_path, "--html", page, "--format", "parquet",
                     "--out", tmp_path, "--top", "5")

    assert result.returncode == 0, result.stderr
    assert page.read_text().count("<figure") == 4
    assert len(pd.read_parquet(tmp_path / "neurons.parquet")) == 2 * (1000 + 1280)
    assert (tmp_path / "layers.parquet").is_file()


def test_a_changed_report_is_refused_with_exit_1(run, tmp_path):
    report = run.report()
    # A doctored cross-check: a deviation that is certainly not the recorded one.
    report["crosscheck"]["passed"] = True
    recorded = report["crosscheck"]["max_abs_deviation"]
    report["crosscheck"]["max_abs_deviation"] = recorded / 2 + 1e-9
    changed = tmp_path / "report.json"
    changed.write_text(json.dumps(report))

    result = run_cli("report", changed, "--html", tmp_path / "page.html")

    assert result.returncode == 1
    assert "digest" in result.stderr and not (tmp_path / "page.html").exists()


def test_nothing_to_do_exits_2(run):
    result = run_cli("report", run.report_path)

    assert result.returncode == 2
    assert "pass --html PATH and/or --format csv|parquet" in result.stderr
