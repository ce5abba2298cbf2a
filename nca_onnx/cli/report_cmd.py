"""`nca-onnx report`: render a report as a self-contained HTML page and export its tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nca_onnx.cli.common import fail_cleanly

__all__ = ["report_command"]

_DEFAULT_TOP = 20


@fail_cleanly
def report_command(
    report: Annotated[Path, typer.Argument(help="report.json written by 'nca-onnx analyze'.")],
    html: Annotated[Path | None, typer.Option(
        help="Write the report as one HTML file that opens offline.")] = None,
    table_format: Annotated[str | None, typer.Option(
        "--format", help="Export the neuron, layer and stability tables as csv or parquet.")]
    = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for the tables. Default: the report's folder.")] = None,
    top: Annotated[int, typer.Option(help="Most critical neurons listed per class in the "
                                          "HTML.")] = _DEFAULT_TOP,
) -> None:
    """Render a report as one offline HTML page, and export its tables (csv or parquet).

    The report is checked against its digest and schema first. HTML
    needs the 'report' extra (matplotlib), Parquet the 'parquet' extra
    (pyarrow).
    """
    from rich.console import Console

    from nca_onnx.errors import ParameterError
    from nca_onnx.evidence.documents import read_sealed_document

    if html is None and table_format is None:
        raise ParameterError("nothing to do: pass --html PATH and/or --format csv|parquet")
    if top < 1:
        raise ParameterError(f"--top must be at least 1, got {top}")
    document = read_sealed_document(report)
    console = Console()

    if table_format is not None:
        from nca_onnx.report.export import report_tables, write_tables

        written = write_tables(report_tables(document), out or report.parent, table_format)
        console.print(f"wrote {', '.join(str(path) for path in written)}")
    if html is not None:
        from nca_onnx.report.html import write_html

        write_html(document, html, top)
        console.print(f"wrote {html}")
