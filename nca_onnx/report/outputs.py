"""Write what an analysis leaves behind: the sealed report, its tables and its page."""

from __future__ import annotations

from pathlib import Path

from nca_onnx.analysis.run import AnalysisResult
from nca_onnx.report.export import stability_table, write_tables
from nca_onnx.report.files import write_json
from nca_onnx.report.tables import layer_table, neuron_table

__all__ = ["write_outputs"]


def write_outputs(result: AnalysisResult, report: dict, folder: Path,
                  table_format: str = "csv", html: Path | None = None) -> None:
    """Write `report` (already sealed) as report.json, with the neuron, layer and,
    when the report has a stability section, stability tables in `table_format`.

    The CLI and the service both call this, so their files are the same. The report
    is written last: its presence means the tables beside it are complete.
    """
    tables = {"neurons": neuron_table(result.statistics), "layers": layer_table(result.statistics)}
    if report.get("stability"):
        tables["stability"] = stability_table(report["stability"])
    write_tables(tables, folder, table_format)
    write_json(folder / "report.json", report)
    if html is not None:
        from nca_onnx.report.html import write_html

        write_html(report, html)
