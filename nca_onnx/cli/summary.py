"""The short terminal summary of an analysis: a view of the result, nothing computed here."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from nca_onnx.analysis.run import AnalysisResult

__all__ = ["print_summary"]

_TOP = 10


def print_summary(result: AnalysisResult, out: Path, console: Console) -> None:
    """Counts, flagged layers and the ten most critical neurons of each class."""
    rejected = sum(1 for verdict in result.verdicts if not verdict.selected)
    neurons = sum(layer.neurons for layer in result.layers)
    console.print(
        f"[bold]{result.model.path.name}[/]: {len(result.layers)} layers, {neurons} neurons, "
        f"{len(result.verdicts) - rejected} images selected, {rejected} rejected, "
        f"fault model {result.config.fault}, tau {result.config.tau}"
    )
    for stats in result.statistics:
        flagged = stats.flagged_layers
        console.print(f"\n[bold]class {stats.label}[/] ({stats.images} images): "
                      f"{len(flagged)} flagged layers"
                      + (f": {', '.join(flagged[:8])}" + (" ..." if len(flagged) > 8 else "")
                         if flagged else ""))
        table = Table(title=f"{_TOP} most critical neurons", title_justify="left")
        for column in ("rank", "layer", "index", "mean", "max", "flips"):
            table.add_column(column, justify="left" if column == "layer" else "right")
        for row in stats.ranking(_TOP).itertuples():
            table.add_row(str(row.rank), row.layer, str(row.index), f"{row.mean:.4f}",
                          f"{row.max:.4f}", str(row.decision_flips))
        console.print(table)

    check = result.crosscheck
    verdict = "[green]passed[/]" if check.passed else "[red]FAILED[/]"
    console.print(f"cross-check of {len(check.neurons)} neurons by the reference path: largest "
                  f"deviation {check.max_abs_deviation:.2e} (tolerance {check.tolerance:g}) "
                  f"{verdict}")
    timings = result.timings
    console.print(f"analysis {timings['analysis_s']:.1f} s, "
                  f"{timings['evaluations_per_s']:.0f} neuron-image evaluations/s; "
                  f"wrote {out / 'report.json'} and {out / 'neurons.csv'}")
