"""Every parameter of an adversarial-set build and its default, for CLI and API alike."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nca_onnx.analysis.config import check_common, raise_first_failure
from nca_onnx.engine.cut_engine import DEFAULT_MEMORY_BUDGET_BYTES

__all__ = ["DEFAULT_BATCH_SIZE", "DEFAULT_STEPS", "DEFAULT_TARGET_CONFIDENCE", "EPS_RULE",
           "AdversarialConfig", "default_eps"]

DEFAULT_STEPS = 20
DEFAULT_TARGET_CONFIDENCE = 0.5
DEFAULT_BATCH_SIZE = 16
# One grey level: the step that moves a pixel of the narrowest channel by 1 on 0..255.
_GREY_LEVELS = 255.0
EPS_RULE = ("default: one grey level in model-input units, (clip_high - clip_low) / 255 of the "
            "channel with the narrowest valid range")


def default_eps(clip_low: np.ndarray, clip_high: np.ndarray) -> float:
    """The default FGSM step (EPS_RULE) for per-channel bounds in model-input units."""
    return float(np.min(np.asarray(clip_high, np.float64) - np.asarray(clip_low, np.float64))
                 / _GREY_LEVELS)


@dataclass(frozen=True)
class AdversarialConfig:
    """What to attack and how; METHOD.md ("Adversarial set") gives steps and target.

    `eps` None takes `default_eps` of the clip bounds. `clip_low` and `clip_high` (one
    value, or one per channel, in model-input units) replace the preprocessing's valid
    range; .npy/.npz inputs need them. The preprocessing fields mean what they mean in
    `AnalysisConfig`.
    """

    model: Path
    data: Path
    classes: tuple[int, ...]
    eps: float | None = None
    steps: int = DEFAULT_STEPS
    target_confidence: float = DEFAULT_TARGET_CONFIDENCE
    clip_low: tuple[float, ...] | None = None
    clip_high: tuple[float, ...] | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    provider: str = "auto"
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES
    layout: str | None = None
    output: str | None = None
    preset: str = "imagenet"
    size: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    channel_order: str | None = None
    resize: str | None = None

    def validate(self) -> None:
        """Raises ParameterError naming the first parameter out of range."""
        raise_first_failure(check_common(self) + [
            (self.eps is None or (math.isfinite(self.eps) and self.eps > 0),
             f"--eps must be a positive number in model-input units, got {self.eps}"),
            (self.steps >= 1, f"--steps must be at least 1, got {self.steps}"),
            (0.0 <= self.target_confidence < 1.0,
             f"--target-confidence must lie in [0, 1), got {self.target_confidence}"),
            ((self.clip_low is None) == (self.clip_high is None),
             "pass --clip-low and --clip-high together, or neither"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
        ])

    def parameters(self) -> dict:
        """The parameters as given (paths as strings), for the manifest."""
        values = asdict(self)
        values["model"] = str(self.model)
        values["data"] = str(self.data)
        values["classes"] = list(self.classes)
        return values
