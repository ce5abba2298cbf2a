"""Options several commands share, defined once: data, preprocessing, model and runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["ChannelOrder", "Classes", "Data", "Layout", "Mean", "MemoryBudget", "Output",
           "Preset", "Provider", "Quiet", "Resize", "Size", "Std"]

Classes = Annotated[list[int], typer.Option(
    "--class", "-c", help="Ground-truth class index; repeat for several classes "
    "(images in subfolders named by class).")]
Data = Annotated[Path, typer.Option(
    help="Folder of .jpg/.png images, or an .npy/.npz of preprocessed inputs.")]
Provider = Annotated[str, typer.Option(help="auto, cpu, cuda or tensorrt.")]
MemoryBudget = Annotated[str, typer.Option(
    help="Memory the engine may use per run, e.g. 512MiB or 2GiB.")]
Preset = Annotated[str, typer.Option(
    help="Preprocessing: imagenet, inception, caffe, unit or efficientnet-lite.")]
Size = Annotated[Optional[str], typer.Option(
    help="Input size HEIGHTxWIDTH when the model leaves it free.")]
Mean = Annotated[Optional[str], typer.Option(
    help="Per-channel mean on 0..255, e.g. 123.7,116.3,103.5.")]
Std = Annotated[Optional[str], typer.Option(help="Per-channel std on 0..255.")]
ChannelOrder = Annotated[Optional[str], typer.Option(help="RGB or BGR.")]
Resize = Annotated[Optional[str], typer.Option(
    help="crop (short side, centre crop) or stretch.")]
Layout = Annotated[Optional[str], typer.Option(help="Force NCHW or NHWC.")]
Output = Annotated[Optional[str], typer.Option(
    help="Name of the class-score output when the model has several.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")]
