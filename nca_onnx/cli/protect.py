"""`nca-onnx protect`: checksum the most critical neurons' weights, or check a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nca_onnx.cli.common import fail_cleanly

__all__ = ["protect"]

_DEFAULT_TOP = 50


def _write(report_path: Path, model: Path, top: int, out: Path | None, console) -> None:
    from nca_onnx.evidence.documents import read_sealed_document
    from nca_onnx.evidence.manifest import build_manifest
    from nca_onnx.report.files import write_json

    report = read_sealed_document(report_path)
    manifest = build_manifest(report, report_path, model, top)
    target = out or report_path.parent / "manifest.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_json(target, manifest)
    console.print(f"wrote {target}: checksums of {len(manifest['neurons'])} neurons "
                  f"(the {top} most critical of each class)")


def _check(manifest_path: Path, model: Path, console) -> None:
    from nca_onnx.errors import VerificationError
    from nca_onnx.evidence.documents import read_sealed_document
    from nca_onnx.evidence.manifest import check_manifest

    manifest = read_sealed_document(manifest_path, "manifest")
    outcome = check_manifest(manifest, model)
    if not outcome.model_matches:
        console.print(f"note: '{model}' is not byte-identical to the model the manifest was "
                      "written for; checking the protected filters")
    if not outcome.passed:
        raise VerificationError(
            f"{len(outcome.changed)} of {outcome.checked} protected neurons changed in "
            f"'{model}': {', '.join(outcome.changed[:10])}"
            + (" ..." if len(outcome.changed) > 10 else ""))
    console.print(f"[green]intact[/]: the weights and biases of all {outcome.checked} "
                  f"protected neurons match {manifest_path}")


@fail_cleanly
def protect(
    model: Annotated[Path, typer.Option(help="The ONNX model to checksum or check.")],
    report: Annotated[Path | None, typer.Argument(
        help="report.json to take the most critical neurons from.")] = None,
    top: Annotated[int, typer.Option(help="Neurons protected per class, by rank.")]
    = _DEFAULT_TOP,
    out: Annotated[Path | None, typer.Option(
        help="Where to write the manifest. Default: manifest.json beside the report.")]
    = None,
    check: Annotated[Path | None, typer.Option(
        help="Check --model against this manifest instead of writing one; exit 1 names "
             "each neuron whose weights changed.")] = None,
) -> None:
    """Checksum the weights of the most critical neurons, or check a model (--check).

    The manifest holds, per protected neuron, SHA-256 of its filter's
    weight bytes and bias bytes as stored in the model. With --check,
    exit 1 names each neuron whose bytes changed.
    """
    from rich.console import Console

    from nca_onnx.errors import ParameterError

    console = Console()
    if check is not None:
        if report is not None:
            raise ParameterError("pass either a report (to write a manifest) or --check "
                                 "MANIFEST (to check a model), not both")
        _check(check, model, console)
        return
    if report is None:
        raise ParameterError("pass the report.json to protect, or --check MANIFEST to check "
                             "a model against a manifest")
    _write(report, model, top, out, console)
