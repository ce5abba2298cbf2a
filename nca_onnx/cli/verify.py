"""`nca-onnx verify`: recheck a report's digest, its inputs and a sample of its neurons."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nca_onnx.cli.common import fail_cleanly

__all__ = ["verify"]

_DEFAULT_SAMPLE = 20
_DEFAULT_TOLERANCE = 1e-5
_LISTED_FAILURES = 5


def _print_findings(outcome, console) -> None:
    from rich.table import Table

    table = Table(title="verification", title_justify="left")
    for column in ("check", "subject", "result", "detail"):
        table.add_column(column, overflow="fold")
    for finding in outcome.findings:
        result = "[green]ok[/]" if finding.passed else "[red]FAILED[/]"
        table.add_row(finding.check, finding.subject, result, finding.detail)
    console.print(table)


def _recorded_path(document: dict, key: str) -> Path:
    from nca_onnx.errors import ParameterError

    parameters = document.get("parameters")
    value = parameters.get(key) if isinstance(parameters, dict) else None
    if not isinstance(value, str):
        raise ParameterError(f"the report records no {key} path; pass --{key}")
    return Path(value)


def _failure_message(outcome) -> str:
    failures = outcome.failures
    listed = "; ".join(f"{f.check} {f.subject}: {f.detail}" for f in failures[:_LISTED_FAILURES])
    more = f" (and {len(failures) - _LISTED_FAILURES} more)" \
        if len(failures) > _LISTED_FAILURES else ""
    return f"{len(failures)} check(s) failed: {listed}{more}"


@fail_cleanly
def verify(
    report: Annotated[Path, typer.Argument(help="report.json written by 'nca-onnx analyze'.")],
    model: Annotated[Path | None, typer.Option(
        help="The analysed ONNX model. Default: the path recorded in the report.")] = None,
    data: Annotated[Path | None, typer.Option(
        help="The analysed images or arrays. Default: the path recorded in the report.")]
    = None,
    sample: Annotated[int, typer.Option(
        help="Neurons recomputed by the reference path: the most critical of each class, "
             "then random ones.")] = _DEFAULT_SAMPLE,
    seed: Annotated[int, typer.Option(help="Seed of the random sample.")] = 0,
    tolerance: Annotated[float, typer.Option(
        help="Largest accepted |recorded - recomputed| of a criticality statistic.")]
    = _DEFAULT_TOLERANCE,
    provider: Annotated[str, typer.Option(
        help="Execution provider of the re-computation: cpu, cuda, tensorrt or auto.")]
    = "cpu",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the verdict.")]
    = False,
) -> None:
    """Recheck a report: digest, model and image hashes, a sample of neurons recomputed.

    The sample is recomputed by the reference path with the recorded
    parameters and compared with the recorded per-neuron statistics.
    Exit 1 names what differs (digest, model, image, neuron); exit 2 for
    bad input.
    """
    from rich.console import Console

    from nca_onnx.errors import VerificationError
    from nca_onnx.evidence.documents import read_document
    from nca_onnx.evidence.verification import verify_report

    document = read_document(report)
    model = model or _recorded_path(document, "model")
    data = data or _recorded_path(document, "data")
    outcome = verify_report(document, str(report), model, data, sample, seed, tolerance,
                            provider)

    console = Console()
    if not quiet:
        _print_findings(outcome, console)
    largest = outcome.largest_deviation
    deviation = "nothing recomputed" if largest is None else f"{largest:.2e}"
    console.print(f"largest deviation {deviation} (tolerance {tolerance:g})")
    if not outcome.passed:
        raise VerificationError(_failure_message(outcome))
    console.print(f"[green]verified[/]: {report}")
