"""`nca-onnx adversarial`: iterative FGSM on any ONNX classifier, written as a data set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nca_onnx.cli import options
from nca_onnx.cli.common import fail_cleanly, parse_bytes, parse_floats, parse_size
from nca_onnx.cli.progress import progress_bar

__all__ = ["adversarial"]

_DEFAULT_STEPS = 20
_DEFAULT_TARGET = 0.5
_DEFAULT_BATCH = 16


def _attack(config, quiet: bool):
    from rich.console import Console

    from nca_onnx.adversarial.build import build_adversarial_set

    bar = progress_bar(Console(stderr=True, quiet=quiet), "images")
    task = bar.add_task("FGSM", total=None)

    def advance(done, total):
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        return build_adversarial_set(config, advance)
    finally:
        bar.stop()


def _print_outcome(built, arrays: Path, manifest: Path) -> None:
    import numpy as np
    from rich.console import Console

    fgsm = built.fgsm
    count = len(fgsm.flipped)
    flipped = fgsm.flipped_count
    steps = fgsm.steps_taken[fgsm.flipped]
    console = Console()
    console.print(f"[bold]{built.model.path.name}[/]: {count} inputs attacked, eps "
                  f"{built.eps:g} in model-input units ({built.eps_rule}), at most "
                  f"{fgsm.steps} steps, target confidence {fgsm.target_confidence:g}")
    console.print(f"flipped {flipped} of {count}"
                  + (f" (median {np.median(steps):g} steps)" if flipped else "")
                  + f"; not flipped within the budget and kept: {count - flipped}; "
                  f"largest L-infinity distance {fgsm.linf_distance.max():.4g}")
    console.print(f"wrote {arrays} and {manifest}")


@fail_cleanly
def adversarial(
    model: Annotated[Path, typer.Argument(help="ONNX classifier to attack.")],
    classes: options.Classes,
    data: options.Data,
    out: Annotated[Path, typer.Option(
        help="Folder for adversarial.npz and manifest.json.")] = Path("adversarial"),
    eps: Annotated[Optional[float], typer.Option(
        help="FGSM step in model-input units. Default: one grey level, (high - low) / 255 "
             "of the narrowest channel's valid range.")] = None,
    steps: Annotated[int, typer.Option(help="Most FGSM steps per image.")] = _DEFAULT_STEPS,
    target_confidence: Annotated[float, typer.Option(
        help="An image counts as flipped once another class is above this confidence.")]
    = _DEFAULT_TARGET,
    clip_low: Annotated[Optional[str], typer.Option(
        help="Lowest valid input value, one or one per channel (model-input units). "
             "Default: where pixel 0 lands after the preprocessing; needed for .npy/.npz.")]
    = None,
    clip_high: Annotated[Optional[str], typer.Option(
        help="Highest valid input value, as --clip-low (pixel 255).")] = None,
    batch_size: Annotated[int, typer.Option(
        help="Images per run of the gradient model.")] = _DEFAULT_BATCH,
    provider: options.Provider = "auto",
    memory_budget: options.MemoryBudget = "1GiB",
    preset: options.Preset = "imagenet",
    size: options.Size = None,
    mean: options.Mean = None,
    std: options.Std = None,
    channel_order: options.ChannelOrder = None,
    resize: options.Resize = None,
    layout: options.Layout = None,
    output: options.Output = None,
    quiet: options.Quiet = False,
) -> None:
    """Non-targeted iterative FGSM (METHOD.md) on every input of the given classes.

    Repeats x <- clip(x + eps * sign(grad loss)) until another class is above
    --target-confidence or --steps steps are taken, inside the valid input
    range of the preprocessing. Writes adversarial.npz (inputs, labels; usable
    as --data or --adversarial) and manifest.json (per image: steps, flipped,
    final class and confidence, L-infinity distance). Images that do not flip
    are kept and counted. Exit 2 for bad input, an operator the gradient graph
    does not support, or a NaN or infinite gradient.
    """
    from nca_onnx.adversarial.config import AdversarialConfig
    from nca_onnx.adversarial.files import write_adversarial_set

    config = AdversarialConfig(
        model=model, data=data, classes=tuple(classes), eps=eps, steps=steps,
        target_confidence=target_confidence, clip_low=parse_floats(clip_low, "--clip-low"),
        clip_high=parse_floats(clip_high, "--clip-high"), batch_size=batch_size,
        provider=provider, memory_budget_bytes=parse_bytes(memory_budget), layout=layout,
        output=output, preset=preset, size=parse_size(size), mean=parse_floats(mean, "--mean"),
        std=parse_floats(std, "--std"), channel_order=channel_order, resize=resize,
    )
    config.validate()
    built = _attack(config, quiet)
    arrays, manifest = write_adversarial_set(built, out)
    if not quiet:
        _print_outcome(built, arrays, manifest)
