"""What both evaluation paths return: confidences with and without a neuron's fault."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from nca_onnx.graph.neurons import Layer

__all__ = ["Evaluator", "MaskedConfidences", "split_confidences"]


@dataclass(frozen=True)
class MaskedConfidences:
    """Confidences of k neurons of one layer on N images, arrays of shape [k, N].

    `unmasked` is y_i, `true_class` is m_i and `best_other` is m_j of METHOD.md;
    row r of `unmasked` comes from the same run as row r of the masked arrays.
    """

    layer: str
    neurons: np.ndarray
    unmasked: np.ndarray
    true_class: np.ndarray
    best_other: np.ndarray

    @staticmethod
    def concatenate(parts: Sequence[MaskedConfidences]) -> MaskedConfidences:
        """Join parts of one layer, in the given order."""
        return MaskedConfidences(
            layer=parts[0].layer,
            neurons=np.concatenate([p.neurons for p in parts]),
            unmasked=np.concatenate([p.unmasked for p in parts]),
            true_class=np.concatenate([p.true_class for p in parts]),
            best_other=np.concatenate([p.best_other for p in parts]),
        )


class Evaluator(Protocol):
    """One way to measure masked confidences; the reference and the engine agree."""

    def evaluate(self, layer: Layer, neurons: Sequence[int]) -> MaskedConfidences:
        """Confidences of the bound images with each given neuron of `layer` failed alone."""
        ...


def split_confidences(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """(confidence of the label, highest confidence of any other class) per row.

    `probabilities` is [..., N, classes] and `labels` [N].
    """
    rows = np.arange(labels.shape[0])
    true_class = probabilities[..., rows, labels]
    others = probabilities.copy()
    others[..., rows, labels] = -np.inf
    return true_class, others.max(axis=-1)
