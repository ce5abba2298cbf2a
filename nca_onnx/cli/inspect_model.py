"""`nca-onnx inspect`: the layers a model has and the neurons the analysis would mask."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nca_onnx.cli.common import fail_cleanly

__all__ = ["inspect"]


@fail_cleanly
def inspect(
    model: Annotated[Path, typer.Argument(help="ONNX model to inspect.")],
    layout: Annotated[Optional[str], typer.Option(help="Force NCHW or NHWC.")] = None,
    output: Annotated[Optional[str], typer.Option(help="Class-score output name.")] = None,
) -> None:
    """List the layers with neurons (node name, op, neurons, weight shape, groups)."""
    from rich.console import Console
    from rich.table import Table

    from nca_onnx.graph.load import load_model
    from nca_onnx.graph.neurons import find_layers

    loaded = load_model(model, layout, output)
    layers = find_layers(loaded.proto)
    console = Console()
    console.print(f"[bold]{model}[/]  sha256 {loaded.sha256[:16]}...  opset {loaded.opset}  "
                  f"producer '{loaded.producer}'")
    console.print(f"input '{loaded.input_name}' {list(loaded.input_shape)} {loaded.layout}; "
                  f"output '{loaded.output_name}' {loaded.num_classes} classes "
                  f"({'model softmax' if loaded.output_is_probability else 'softmax applied'})")

    table = Table()
    for column in ("#", "node name", "op", "neurons", "weight shape", "groups"):
        table.add_column(column, justify="left" if column in ("node name", "op") else "right",
                         no_wrap=column == "node name")
    for layer in layers:
        table.add_row(str(layer.position), layer.name, layer.op_type, str(layer.neurons),
                      "x".join(map(str, layer.weight_shape)), str(layer.groups))
    console.print(table)
    console.print(f"{len(layers)} layers, {sum(layer.neurons for layer in layers)} neurons")
