"""`nca-onnx analyze --format parquet --html`: sealed report, Parquet tables and the page."""

from __future__ import annotations

import pandas as pd
from cli_runner import run_cli
from evidence_runs import DEMO_IMAGES, EFFICIENTNET

from nca_onnx.evidence import read_sealed_document


def test_parquet_tables_and_html_beside_a_sealed_report(tmp_path):
    out = tmp_path / "results"

    result = run_cli("analyze", EFFICIENTNET, "--class", "967", "--data", DEMO_IMAGES,
                     "--preset", "efficientnet-lite", "--layers", "/_fc/Gemm", "--crosscheck",
                     "1", "--format", "parquet", "--html", out / "report.html", "--out", out,
                     "-q")

    assert result.returncode == 0, result.stderr
    report = read_sealed_document(out / "report.json")
    assert [item["status"] for item in report["standards"]["items"]] == [
        "supported", "supported", "supported", "not-available"]
    assert len(pd.read_parquet(out / "neurons.parquet")) == 1000
    assert not (out / "neurons.csv").exists()
    assert (out / "report.html").stat().st_size > 10_000


def test_an_unknown_table_format_exits_2_before_any_work(tmp_path):
    result = run_cli("analyze", EFFICIENTNET, "--class", "967", "--data", DEMO_IMAGES,
                     "--format", "xlsx", "--out", tmp_path)

    assert result.returncode == 2
    assert "--format 'xlsx' is not known" in result.stderr
