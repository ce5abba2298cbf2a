"""The test set keeps confident, correct images and says why each other one was left out."""

from __future__ import annotations

import numpy as np

from nca_onnx.data.dataset import Dataset, ImageRecord
from nca_onnx.data.selection import select_images


def _dataset(labels):
    records = tuple(ImageRecord(f"img{i}", f"img{i}", "0" * 64, label)
                    for i, label in enumerate(labels))
    return Dataset(records, np.zeros((len(labels), 1), dtype=np.float32))


def test_verdicts_give_the_reason_for_each_rejection():
    probabilities = np.array([
        [0.05, 0.95, 0.0],   # selected
        [0.70, 0.30, 0.0],   # misclassified
        [0.25, 0.75, 0.0],   # not confident enough
        [0.10, 0.90, 0.0],   # over --max-images
    ])

    verdicts = select_images(_dataset([1, 1, 1, 1]), probabilities, 0.8, max_images=1)

    assert [v.selected for v in verdicts] == [True, False, False, False]
    assert verdicts[1].reason.startswith("misclassified as 0")
    assert "not above --min-confidence 0.8" in verdicts[2].reason
    assert "--max-images 1 reached" in verdicts[3].reason
    assert verdicts[0].confidence == 0.95


def test_max_images_counts_per_class():
    probabilities = np.array([[0.9, 0.1], [0.1, 0.9], [0.95, 0.05], [0.05, 0.95]])

    verdicts = select_images(_dataset([0, 1, 0, 1]), probabilities, 0.8, max_images=1)

    assert [v.selected for v in verdicts] == [True, True, False, False]
