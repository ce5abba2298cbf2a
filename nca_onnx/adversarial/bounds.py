"""The valid input range FGSM clips to: per channel, arranged for the model's layout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nca_onnx.data.preprocess import Preprocessing
from nca_onnx.errors import DataError, ParameterError

__all__ = ["ClipBounds", "check_inside", "clip_bounds"]

# Inputs this far outside the bounds (relative to the range) still count as inside:
# float32 rounding of the preprocessing itself.
_INSIDE_TOLERANCE = 1e-5
_LISTED_ROWS = 10


@dataclass(frozen=True)
class ClipBounds:
    """Per-channel (low, high) in model-input units, and where they came from."""

    per_channel_low: tuple[float, ...]
    per_channel_high: tuple[float, ...]
    layout: str
    source: str

    def _shaped(self, values: tuple[float, ...]) -> np.ndarray:
        shape = (1, -1, 1, 1) if self.layout == "NCHW" else (1, 1, 1, -1)
        return np.asarray(values, dtype=np.float64).reshape(shape)

    @property
    def low(self) -> np.ndarray:
        """Lower bounds shaped to broadcast over [N, ...] inputs of the layout."""
        return self._shaped(self.per_channel_low)

    @property
    def high(self) -> np.ndarray:
        """Upper bounds shaped to broadcast over [N, ...] inputs of the layout."""
        return self._shaped(self.per_channel_high)

    def describe(self) -> dict:
        return {"low": list(self.per_channel_low), "high": list(self.per_channel_high),
                "source": self.source}


def _per_channel(values: tuple[float, ...], channels: int, option: str) -> np.ndarray:
    if len(values) == 1:
        return np.full(channels, values[0], dtype=np.float64)
    if len(values) != channels:
        raise ParameterError(f"{option} takes 1 value or {channels} (one per input channel), "
                             f"got {len(values)}")
    return np.asarray(values, dtype=np.float64)


def clip_bounds(preprocessing: Preprocessing | None, layout: str, channels: int,
                clip_low: tuple[float, ...] | None,
                clip_high: tuple[float, ...] | None) -> ClipBounds:
    """The bounds FGSM keeps inputs in: explicit values first, else the preprocessing's range.

    `preprocessing` is None for .npy/.npz inputs, whose valid range nca-onnx cannot know.

    Raises:
        ParameterError: array inputs without explicit bounds, a wrong number of values,
            or a low bound above its high bound.
    """
    if clip_low is not None and clip_high is not None:
        low = _per_channel(clip_low, channels, "--clip-low")
        high = _per_channel(clip_high, channels, "--clip-high")
        source = "--clip-low/--clip-high"
    elif preprocessing is None:
        raise ParameterError(
            "inputs read from an .npy/.npz carry no valid range; pass --clip-low and "
            "--clip-high in model-input units (one value, or one per channel), e.g. the "
            "values pixels 0 and 255 take after your preprocessing"
        )
    else:
        low, high = (np.asarray(bound, dtype=np.float64) for bound in preprocessing.valid_range)
        source = f"preprocessing '{preprocessing.name}': pixels 0 and 255, per channel"
    if np.any(low >= high):
        raise ParameterError(f"the clip range is empty for some channel: low {low.tolist()}, "
                             f"high {high.tolist()}; pass --clip-low below --clip-high")
    return ClipBounds(tuple(low.tolist()), tuple(high.tolist()), layout, source)


def check_inside(inputs: np.ndarray, bounds: ClipBounds) -> None:
    """Refuse inputs that already lie outside the bounds (FGSM would clip them at once).

    Raises:
        DataError: some inputs lie outside, naming the first rows.
    """
    slack = _INSIDE_TOLERANCE * (bounds.high - bounds.low)
    outside = (inputs < bounds.low - slack) | (inputs > bounds.high + slack)
    rows = np.flatnonzero(outside.reshape(len(inputs), -1).any(axis=1))
    if len(rows):
        raise DataError(
            f"inputs {rows[:_LISTED_ROWS].tolist()} lie outside the clip range "
            f"[{list(bounds.per_channel_low)}, {list(bounds.per_channel_high)}] "
            f"({bounds.source}); check the preprocessing or pass --clip-low/--clip-high "
            "that cover the inputs"
        )
