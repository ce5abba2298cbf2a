"""The criticality of a neuron on an image, exactly as METHOD.md defines it."""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_NOISE_FLOOR", "FLAG_DROP", "confidence_drop", "criticality"]

DEFAULT_NOISE_FLOOR = 1e-6
# METHOD.md, "Statistics": a drop of this size, or a decision change, flags a layer.
FLAG_DROP = 0.5


def confidence_drop(unmasked: np.ndarray, masked: np.ndarray,
                    noise_floor: float = DEFAULT_NOISE_FLOOR) -> np.ndarray:
    """y_i - m_i, with differences smaller than the noise floor set to exactly 0."""
    drop = np.asarray(unmasked, dtype=np.float64) - np.asarray(masked, dtype=np.float64)
    return np.where(np.abs(drop) < noise_floor, 0.0, drop)


def criticality(unmasked: np.ndarray, true_class: np.ndarray, best_other: np.ndarray,
                tau: float = 0.0, noise_floor: float = DEFAULT_NOISE_FLOOR) -> np.ndarray:
    """Element-wise criticality in [-1, 2] (METHOD.md, "Criticality of one neuron").

    Args:
        unmasked: y_i, confidence of the true class with no neuron masked.
        true_class: m_i, confidence of the true class with the neuron masked.
        best_other: m_j, highest confidence of any other class with the neuron masked.
        tau: criticality threshold in [0, 1].
        noise_floor: |y_i - m_i| below this counts as no change.

    Returns:
        float64 array of the broadcast shape of the inputs.
    """
    true_class = np.asarray(true_class, dtype=np.float64)
    best_other = np.asarray(best_other, dtype=np.float64)
    drop = confidence_drop(unmasked, true_class, noise_floor)

    # Branch 1: the decision changed. 1 / (1 - m_j) lies in [1, 2) for m_j < 0.5.
    with np.errstate(divide="ignore"):
        flipped_value = np.where(best_other < 0.5, 1.0 / (1.0 - best_other), 2.0)
    # Branches 2 and 3: still class i; a rise counts (as anti-critical) only when tau is 0.
    kept_value = np.where(drop >= tau, drop, 0.0)
    if tau == 0.0:
        kept_value = drop
    return np.where(true_class <= best_other, flipped_value, kept_value)
