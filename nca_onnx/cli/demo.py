"""`nca-onnx demo`: the bundled EfficientNet-Lite0 and photos, analysed in a few minutes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nca_onnx.cli.common import fail_cleanly
from nca_onnx.errors import DataError

__all__ = ["demo"]

MODELS = Path(__file__).resolve().parents[2] / "models"
DEMO_MODEL = MODELS / "efficientnet_lite0.onnx"
DEMO_IMAGES = MODELS / "demo_images"
DEMO_CLASS = 967
# The last blocks and the classifier: about a third of the neurons, which keeps the
# demo near two minutes on two cores. `nca-onnx analyze` without --layers does all.
DEMO_LAYERS = ("*blocks.1[2-5]*", "*conv_head*", "*fc*")


@fail_cleanly
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the outputs.")] = Path("results/demo"),
    all_layers: Annotated[bool, typer.Option(
        "--all-layers", help="Analyse every layer (about 3x longer).")] = False,
) -> None:
    """Analyse the bundled EfficientNet-Lite0 on the bundled espresso photos (class 967)."""
    from rich.console import Console

    from nca_onnx.analysis.config import AnalysisConfig
    from nca_onnx.cli.analyze import run_and_write
    from nca_onnx.cli.summary import print_summary

    if not DEMO_MODEL.exists() or not DEMO_IMAGES.exists():
        raise DataError(
            f"the bundled model or photos are missing under '{MODELS}'; the demo runs from "
            "a source checkout of nca-onnx (pip install -e .)"
        )
    config = AnalysisConfig(model=DEMO_MODEL, data=DEMO_IMAGES, classes=(DEMO_CLASS,),
                            preset="efficientnet-lite",
                            layers=() if all_layers else DEMO_LAYERS)
    console = Console()
    scope = "all layers" if all_layers else f"layers matching {', '.join(DEMO_LAYERS)}"
    console.print(f"demo: {DEMO_MODEL.name}, class {DEMO_CLASS}, photos in {DEMO_IMAGES}, "
                  f"{scope}")
    result = run_and_write(config, out)
    print_summary(result, out, console)
