"""Tables for analysts from a report: the same columns as analyze writes, csv or parquet."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from evidence_runs import demo_run, stability_section

from nca_onnx.errors import MissingExtraError, ParameterError
from nca_onnx.report.export import STABILITY_COLUMNS, report_tables, stability_table, write_tables


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


def test_tables_from_the_report_equal_the_tables_analyze_wrote(run):
    tables = report_tables(run.report())

    for name in ("neurons", "layers"):
        written = pd.read_csv(run.out / f"{name}.csv")
        pd.testing.assert_frame_equal(tables[name], written, check_dtype=False)


def test_parquet_tables_read_back_identical(run, tmp_path):
    tables = report_tables(run.report())

    paths = write_tables(tables, tmp_path, "parquet")

    assert [path.name for path in paths] == ["neurons.parquet", "layers.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(paths[0]), tables["neurons"])
    assert not list(tmp_path.glob("*.partial"))


def test_stability_rows_become_one_table(run):
    stability = stability_section(run.report())

    table = stability_table(stability)

    assert list(table.columns) == ["class", *STABILITY_COLUMNS]
    assert list(table["kind"]) == (["single"] * 4 + ["cumulative"] * 3) * 2
    assert list(table["class"]) == [967] * 7 + [872] * 7
    assert table.loc[0, "label"] == "no masking" and table.loc[0, "masked"] == ""
    assert table.loc[1, "masked"] == "/_fc/Gemm[967]"
    assert table.loc[6, "masked"].count(";") == 2
    assert table.loc[6, "adversarial_accuracy"] is None or pd.isna(
        table.loc[6, "adversarial_accuracy"])


def test_a_report_with_stability_exports_three_tables(run, tmp_path):
    report = {**run.report(), "stability": stability_section(run.report())}

    paths = write_tables(report_tables(report), tmp_path, "csv")

    assert [path.name for path in paths] == ["neurons.csv", "layers.csv", "stability.csv"]


def test_an_unknown_format_is_refused(run, tmp_path):
    with pytest.raises(ParameterError, match="--format 'xlsx' is not known"):
        write_tables(report_tables(run.report()), tmp_path, "xlsx")


def test_parquet_without_pyarrow_names_the_extra(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)

    with pytest.raises(MissingExtraError, match=r"pip install 'nca-onnx\[parquet\]'"):
        write_tables(report_tables(run.report()), tmp_path, "parquet")
