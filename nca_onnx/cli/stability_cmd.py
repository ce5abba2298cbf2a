"""`nca-onnx stability`: mask a report's most critical neurons and measure the class."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nca_onnx.cli import options
from nca_onnx.cli.common import fail_cleanly, parse_bytes
from nca_onnx.cli.progress import progress_bar
from nca_onnx.stability import DEFAULT_TOP

__all__ = ["stability"]


def _measure(document: dict, model, data, config, provider: str, budget, quiet: bool):
    from rich.console import Console

    from nca_onnx.stability.run import stability_of_report

    bar = progress_bar(Console(stderr=True, quiet=quiet), "classes")
    task = bar.add_task("stability", total=len(document["results"]))

    def advance(done, total):
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        return stability_of_report(document, model, data, config, provider, budget, advance)
    finally:
        bar.stop()


@fail_cleanly
def stability(
    report: Annotated[Path, typer.Argument(help="report.json written by 'nca-onnx analyze'.")],
    data: Annotated[Optional[Path], typer.Option(
        help="Clean set: folder of images or .npy/.npz, preprocessed as the report "
             "records. Default: the report's data.")] = None,
    adversarial: Annotated[Optional[Path], typer.Option(
        help="Adversarial set: the folder 'nca-onnx adversarial --out' wrote, or its "
             ".npz.")] = None,
    top: Annotated[int, typer.Option(
        help="Most critical neurons of each class to mask.")] = DEFAULT_TOP,
    cumulative: Annotated[bool, typer.Option(
        help="Also mask the first 1..N neurons together.")] = False,
    model: Annotated[Optional[Path], typer.Option(
        help="The analysed model; its SHA-256 must be the report's. Default: the report's "
             "model path.")] = None,
    out: Annotated[Optional[Path], typer.Option(
        help="Folder for the updated report.json and the stability table. Default: the "
             "report's folder.")] = None,
    provider: options.Provider = "auto",
    memory_budget: Annotated[Optional[str], typer.Option(
        help="Memory the engine may use per run, e.g. 512MiB. Default: the report's.")]
    = None,
    table_format: Annotated[str, typer.Option(
        "--format", help="Format of the stability table: csv or parquet.")] = "csv",
    quiet: options.Quiet = False,
) -> None:
    """Mask each of the N most critical neurons (and the first 1..N together) and measure.

    Per analysed class, reports the accuracy and the mean and std of the
    true-class confidence on the clean and adversarial sets, "no masking"
    first, and lists the neurons whose masking raises the adversarial
    accuracy. The report gets its stability section and is sealed again;
    stability.csv is written beside it. Exit 1 if the report was changed
    or the reference path disagrees; exit 2 for bad input.
    """
    from rich.console import Console

    from nca_onnx.cli.stability_summary import check_stability, print_stability
    from nca_onnx.evidence import read_sealed_document
    from nca_onnx.report.export import require_table_format, stability_table, write_tables
    from nca_onnx.report.files import write_json
    from nca_onnx.stability import StabilityConfig
    from nca_onnx.stability.section import report_with_stability, stability_section

    config = StabilityConfig(top=top, cumulative=cumulative, adversarial=adversarial)
    config.validate()
    require_table_format(table_format)
    budget = parse_bytes(memory_budget) if memory_budget is not None else None
    document = read_sealed_document(report)

    result = _measure(document, model, data, config, provider, budget, quiet)
    section = stability_section(result)
    target = out or report.parent
    write_tables({"stability": stability_table(section)}, target, table_format)
    write_json(target / "report.json", report_with_stability(document, section))

    if not quiet:
        console = Console()
        print_stability(section, console)
        console.print(f"wrote {target / 'report.json'} and "
                      f"{target / ('stability.' + table_format)}")
    check_stability(section)
