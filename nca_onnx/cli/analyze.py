"""`nca-onnx analyze`: the criticality of every neuron, written as evidence and tables."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from nca_onnx.cli.common import (
    EXIT_INTERRUPTED,
    fail_cleanly,
    parse_bytes,
    parse_floats,
    parse_size,
)

__all__ = ["analyze", "run_and_write"]

logger = logging.getLogger(__name__)

OUTPUT_FILES = ("report.json", "neurons.csv", "layers.csv", "stability.csv", "neurons.parquet",
                "layers.parquet", "stability.parquet")


def _progress_bar(console):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("neurons"), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), console=console, transient=False)


def run_and_write(config, out: Path, quiet: bool = False, html: Path | None = None,
                  table_format: str = "csv"):
    """Run the analysis with a progress bar and write report.json, neurons.csv, layers.csv.

    Earlier outputs in `out` are removed first, so an interrupted run leaves no
    report that looks complete; finished units stay in out/checkpoint for a rerun.
    The report gets its standards section and is sealed (nca_onnx.evidence); the
    tables are written as `table_format` (csv or parquet), the page to `html` if given.
    """
    from rich.console import Console

    from nca_onnx.analysis.checkpoint import CheckpointFolder
    from nca_onnx.analysis.run import run_analysis
    from nca_onnx.evidence import seal, with_standards
    from nca_onnx.report.evidence import build_report
    from nca_onnx.report.export import stability_table, write_tables
    from nca_onnx.report.files import write_json
    from nca_onnx.report.tables import layer_table, neuron_table

    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
    checkpoint = out / "checkpoint"
    console = Console(stderr=True, quiet=quiet)

    bar = _progress_bar(console)
    task = bar.add_task("analysing", total=None)

    def advance(unit, done, total):
        # Started on the first finished unit, so that input errors print alone.
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total, description=unit.layer[:28])

    try:
        result = run_analysis(config, progress=advance,
                              store_factory=lambda key: CheckpointFolder(checkpoint, key))
    finally:
        bar.stop()

    report = seal(with_standards(build_report(result)))
    tables = {"neurons": neuron_table(result.statistics), "layers": layer_table(result.statistics)}
    if report.get("stability"):
        tables["stability"] = stability_table(report["stability"])
    write_tables(tables, out, table_format)
    write_json(out / "report.json", report)
    if html is not None:
        from nca_onnx.report.html import write_html

        write_html(report, html)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return result


@fail_cleanly
def analyze(
    model: Annotated[Path, typer.Argument(help="ONNX classifier to analyse.")],
    classes: Annotated[list[int], typer.Option(
        "--class", "-c", help="Ground-truth class index; repeat to analyse several classes "
        "in one run (images in subfolders named by class).")],
    data: Annotated[Path, typer.Option(
        help="Folder of .jpg/.png images, or an .npy/.npz of preprocessed inputs.")],
    out: Annotated[Path, typer.Option(help="Folder for report.json and the tables.")] = Path(
        "results"),
    tau: Annotated[float, typer.Option(help="Criticality threshold in [0, 1].")] = 0.0,
    min_confidence: Annotated[float, typer.Option(
        help="Keep only images predicted correctly above this confidence.")] = 0.8,
    max_images: Annotated[Optional[int], typer.Option(
        help="Use at most this many selected images per class.")] = None,
    layers: Annotated[Optional[list[str]], typer.Option(
        "--layers", "-l", help="Glob on ONNX node names; repeatable. Default: all layers.")]
    = None,
    fault: Annotated[str, typer.Option(help="zero-weights (keep bias) or dead-output.")]
    = "zero-weights",
    provider: Annotated[str, typer.Option(help="auto, cpu, cuda or tensorrt.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the cross-check's random sample.")] = 0,
    memory_budget: Annotated[str, typer.Option(
        help="Memory the engine may use per run, e.g. 512MiB or 2GiB.")] = "1GiB",
    preset: Annotated[str, typer.Option(
        help="Preprocessing: imagenet, inception, caffe, unit or efficientnet-lite.")]
    = "imagenet",
    size: Annotated[Optional[str], typer.Option(
        help="Input size HEIGHTxWIDTH when the model leaves it free.")] = None,
    mean: Annotated[Optional[str], typer.Option(help="Per-channel mean on 0..255, e.g. "
                                                     "123.7,116.3,103.5.")] = None,
    std: Annotated[Optional[str], typer.Option(help="Per-channel std on 0..255.")] = None,
    channel_order: Annotated[Optional[str], typer.Option(help="RGB or BGR.")] = None,
    resize: Annotated[Optional[str], typer.Option(
        help="crop (short side, centre crop) or stretch.")] = None,
    layout: Annotated[Optional[str], typer.Option(help="Force NCHW or NHWC.")] = None,
    output: Annotated[Optional[str], typer.Option(
        help="Name of the class-score output when the model has several.")] = None,
    crosscheck: Annotated[int, typer.Option(
        help="Neurons recomputed by the reference path.")] = 5,
    html: Annotated[Optional[Path], typer.Option(
        help="Also write the report as one offline HTML page here (extra 'report').")] = None,
    table_format: Annotated[str, typer.Option(
        "--format", help="Format of the tables: csv or parquet (extra 'parquet').")] = "csv",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")]
    = False,
) -> None:
    """Measure the criticality of every neuron (METHOD.md) and write the evidence."""
    from rich.console import Console

    from nca_onnx.analysis.config import AnalysisConfig
    from nca_onnx.cli.summary import print_summary
    from nca_onnx.errors import VerificationError
    from nca_onnx.report.export import require_table_format

    config = AnalysisConfig(
        model=model, data=data, classes=tuple(classes), tau=tau,
        min_confidence=min_confidence, max_images=max_images, layers=tuple(layers or ()),
        fault=fault, provider=provider, seed=seed, memory_budget_bytes=parse_bytes(memory_budget),
        crosscheck_neurons=crosscheck, layout=layout, output=output, preset=preset,
        size=parse_size(size), mean=parse_floats(mean, "--mean"),
        std=parse_floats(std, "--std"), channel_order=channel_order, resize=resize,
    )
    require_table_format(table_format)
    if html is not None:
        from nca_onnx.report.figures import require_matplotlib

        require_matplotlib()
    try:
        result = run_and_write(config, out, quiet, html, table_format)
    except KeyboardInterrupt:
        typer.secho(f"interrupted: no report written; finished work is kept in "
                    f"{out / 'checkpoint'}, run the same command again to resume",
                    err=True, fg="yellow")
        raise typer.Exit(EXIT_INTERRUPTED) from None

    if not quiet:
        print_summary(result, out, Console())
    if not result.crosscheck.passed:
        raise VerificationError(
            f"the engine differs from the reference path by "
            f"{result.crosscheck.max_abs_deviation:.2e} (> {result.crosscheck.tolerance:g}); "
            "the report records which neurons; rerun with --provider cpu to compare"
        )
