"""`nca-onnx analyze`: the criticality of every neuron, written as evidence and tables."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Annotated, Optional

import typer

from nca_onnx.cli import options
from nca_onnx.cli.common import (
    EXIT_INTERRUPTED,
    fail_cleanly,
    parse_bytes,
    parse_floats,
    parse_size,
)
from nca_onnx.cli.progress import progress_bar

__all__ = ["analyze", "run_and_write"]

logger = logging.getLogger(__name__)

OUTPUT_FILES = ("report.json", "neurons.csv", "layers.csv", "stability.csv", "neurons.parquet",
                "layers.parquet", "stability.parquet")


def _stability_section(result, report: dict, stability, console) -> dict:
    """The stability section of an analysis just run, with its own progress bar."""
    from nca_onnx.stability.run import stability_of_analysis
    from nca_onnx.stability.section import stability_section

    bar = progress_bar(console, "classes")
    task = bar.add_task("stability", total=len(report["results"]))

    def advance(done, total):
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        return stability_section(stability_of_analysis(result, report, stability, advance))
    finally:
        bar.stop()


def run_and_write(config, out: Path, quiet: bool = False, html: Path | None = None,
                  table_format: str = "csv", stability=None):
    """Run the analysis with a progress bar and write report.json, neurons.csv, layers.csv.

    Earlier outputs in `out` are removed first, so an interrupted run leaves no
    report that looks complete; finished units stay in out/checkpoint for a rerun.
    With a `stability` config (nca_onnx.stability.StabilityConfig) the stability
    analysis runs next and the report gets its section and stability.csv.
    The report gets its standards section and is sealed (nca_onnx.evidence); the
    tables are written as `table_format` (csv or parquet), the page to `html` if given.
    """
    from rich.console import Console

    from nca_onnx.analysis.checkpoint import CheckpointFolder
    from nca_onnx.analysis.run import run_analysis
    from nca_onnx.evidence import seal, with_standards
    from nca_onnx.report.evidence import build_report
    from nca_onnx.report.outputs import write_outputs

    if stability is not None:
        from nca_onnx.stability.run import preflight_analysis

        preflight_analysis(config, stability)
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
    checkpoint = out / "checkpoint"
    console = Console(stderr=True, quiet=quiet)

    bar = progress_bar(console, "neurons")
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

    report = build_report(result)
    if stability is not None:
        from nca_onnx.stability.section import report_with_stability

        report = report_with_stability(report, _stability_section(result, report, stability,
                                                                  console))
    else:
        report = seal(with_standards(report))
    write_outputs(result, report, out, table_format, html)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return result


def _stability_config(top: int | None, adversarial: Path | None, cumulative: bool):
    """The StabilityConfig the --stability-* options ask for, or None."""
    from nca_onnx.errors import ParameterError
    from nca_onnx.stability import StabilityConfig

    if top is None:
        if adversarial is not None or cumulative:
            raise ParameterError("--adversarial and --cumulative belong to the stability "
                                 "analysis; add --stability-top N to run it")
        return None
    config = StabilityConfig(top=top, cumulative=cumulative, adversarial=adversarial)
    config.validate()
    return config


def _show_stability(out: Path, quiet: bool) -> None:
    """Print the stability section as written; fail (exit 1) if its cross-check failed."""
    import json

    from rich.console import Console

    from nca_onnx.cli.stability_summary import check_stability, print_stability

    section = json.loads((out / "report.json").read_text())["stability"]
    if not quiet:
        print_stability(section, Console())
    check_stability(section)


@fail_cleanly
def analyze(
    model: Annotated[Path, typer.Argument(help="ONNX classifier to analyse.")],
    classes: options.Classes,
    data: options.Data,
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
    provider: options.Provider = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the cross-check's random sample.")] = 0,
    memory_budget: options.MemoryBudget = "1GiB",
    preset: options.Preset = "imagenet",
    size: options.Size = None,
    mean: options.Mean = None,
    std: options.Std = None,
    channel_order: options.ChannelOrder = None,
    resize: options.Resize = None,
    layout: options.Layout = None,
    output: options.Output = None,
    crosscheck: Annotated[int, typer.Option(
        help="Neurons recomputed by the reference path.")] = 5,
    stability_top: Annotated[Optional[int], typer.Option(
        help="Also run the stability analysis on the N most critical neurons of each "
             "class (as 'nca-onnx stability --top N').")] = None,
    adversarial: Annotated[Optional[Path], typer.Option(
        help="With --stability-top: the adversarial set ('nca-onnx adversarial --out').")]
    = None,
    cumulative: Annotated[bool, typer.Option(
        help="With --stability-top: also mask the first 1..N neurons together.")] = False,
    html: Annotated[Optional[Path], typer.Option(
        help="Also write the report as one offline HTML page here (extra 'report').")] = None,
    table_format: Annotated[str, typer.Option(
        "--format", help="Format of the tables: csv or parquet (extra 'parquet').")] = "csv",
    quiet: options.Quiet = False,
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
    stability = _stability_config(stability_top, adversarial, cumulative)
    require_table_format(table_format)
    if html is not None:
        from nca_onnx.report.figures import require_matplotlib

        require_matplotlib()
    try:
        result = run_and_write(config, out, quiet, html, table_format, stability)
    except KeyboardInterrupt:
        typer.secho(f"interrupted: no report written; finished work is kept in "
                    f"{out / 'checkpoint'}, run the same command again to resume",
                    err=True, fg="yellow")
        raise typer.Exit(EXIT_INTERRUPTED) from None

    if not quiet:
        print_summary(result, out, Console())
    if stability is not None:
        _show_stability(out, quiet)
    if not result.crosscheck.passed:
        raise VerificationError(
            f"the engine differs from the reference path by "
            f"{result.crosscheck.max_abs_deviation:.2e} (> {result.crosscheck.tolerance:g}); "
            "the report records which neurons; rerun with --provider cpu to compare"
        )
