"""The `nca-onnx` command: one typer app, verbosity set here and nowhere else."""

from __future__ import annotations

from typing import Annotated

import typer

from nca_onnx.cli.adversarial_cmd import adversarial
from nca_onnx.cli.analyze import analyze
from nca_onnx.cli.common import configure_logging
from nca_onnx.cli.demo import demo
from nca_onnx.cli.inspect_model import inspect
from nca_onnx.cli.protect import protect
from nca_onnx.cli.remote import remote_app
from nca_onnx.cli.report_cmd import report_command
from nca_onnx.cli.serve import serve
from nca_onnx.cli.stability_cmd import stability
from nca_onnx.cli.verify import verify

__all__ = ["app"]

app = typer.Typer(
    name="nca-onnx",
    help="Neurons' Criticality Analysis of ONNX classifiers, with audit-ready evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="-v for steps, -vv for details.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="Errors only.")] = False,
) -> None:
    """Neurons' Criticality Analysis of ONNX classifiers."""
    configure_logging(verbose, quiet)


app.command()(analyze)
app.command()(inspect)
app.command()(demo)
app.command()(adversarial)
app.command()(stability)
app.command()(verify)
app.command()(protect)
app.command("report")(report_command)
app.command()(serve)
app.add_typer(remote_app, name="remote")
