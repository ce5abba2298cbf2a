"""Choose the test set of each class (METHOD.md, "Test set"), recording every rejection."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nca_onnx.data.dataset import Dataset

__all__ = ["ImageVerdict", "select_images"]


@dataclass(frozen=True)
class ImageVerdict:
    """Why an input is or is not part of the test set of its class."""

    index: int
    predicted: int
    confidence: float
    selected: bool
    reason: str


def _verdict(index: int, label: int, row: np.ndarray, min_confidence: float,
             taken: int, max_images: int | None) -> ImageVerdict:
    predicted = int(row.argmax())
    confidence = float(row[label])
    if predicted != label:
        reason = f"misclassified as {predicted} ({float(row[predicted]):.3f})"
        return ImageVerdict(index, predicted, confidence, False, reason)
    if confidence <= min_confidence:
        reason = f"confidence {confidence:.3f} not above --min-confidence {min_confidence}"
        return ImageVerdict(index, predicted, confidence, False, reason)
    if max_images is not None and taken >= max_images:
        reason = f"not used: --max-images {max_images} reached for class {label}"
        return ImageVerdict(index, predicted, confidence, False, reason)
    return ImageVerdict(index, predicted, confidence, True, "selected")


def select_images(dataset: Dataset, probabilities: np.ndarray, min_confidence: float,
                  max_images: int | None) -> list[ImageVerdict]:
    """A verdict per input, in dataset order.

    An input is selected when the model predicts its label with a confidence above
    `min_confidence` and its class has fewer than `max_images` selected so far.
    """
    taken: dict[int, int] = {}
    verdicts = []
    for index, record in enumerate(dataset.records):
        verdict = _verdict(index, record.label, probabilities[index], min_confidence,
                           taken.get(record.label, 0), max_images)
        if verdict.selected:
            taken[record.label] = taken.get(record.label, 0) + 1
        verdicts.append(verdict)
    return verdicts
