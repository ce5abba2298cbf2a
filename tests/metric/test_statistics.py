"""Per-neuron and per-layer statistics, flagged layers and a reproducible ranking."""

from __future__ import annotations

import numpy as np
import pytest

from nca_onnx.engine.confidences import MaskedConfidences
from nca_onnx.graph.neurons import Layer
from nca_onnx.metric.statistics import summarise_class


def _layer(name: str, position: int, neurons: int) -> Layer:
    return Layer(name, "Conv", position, f"{name}.w", None, None, name, neurons,
                 (neurons, 1, 1, 1), 1, 1, 4)


def _scores(layer: Layer, true_class, best_other, unmasked=0.9) -> MaskedConfidences:
    true_class = np.asarray(true_class, dtype=np.float64)
    return MaskedConfidences(layer.name, np.arange(layer.neurons),
                             np.full_like(true_class, unmasked), true_class,
                             np.asarray(best_other, dtype=np.float64))


def test_neuron_statistics_follow_the_criticality_per_image():
    layer = _layer("a", 0, 2)
    # neuron 0: drops 0.1 and 0.3; neuron 1: a flip (m_j = 0.6 -> 2) and a rise of 0.05.
    scores = _scores(layer, [[0.8, 0.6], [0.3, 0.95]], [[0.1, 0.2], [0.6, 0.02]])

    stats = summarise_class(3, [layer], [scores], np.array([3, 3]), 0.0, 1e-6)
    first, second = stats.neurons.iloc[0], stats.neurons.iloc[1]

    assert first["mean"] == pytest.approx(0.2)
    assert first["std"] == pytest.approx(0.1)
    assert (first["min"], first["max"]) == pytest.approx((0.1, 0.3))
    assert second["mean"] == pytest.approx((2 - 0.05) / 2)
    assert second["decision_flips"] == 1
    assert second["anti_critical_images"] == 1
    assert stats.images == 2


def test_only_images_of_the_class_count():
    layer = _layer("a", 0, 1)
    scores = _scores(layer, [[0.8, 0.1]], [[0.1, 0.8]])

    stats = summarise_class(1, [layer], [scores], np.array([1, 2]), 0.0, 1e-6)

    assert stats.neurons.iloc[0]["mean"] == pytest.approx(0.1)
    assert stats.neurons.iloc[0]["decision_flips"] == 0


def test_flags_layer_when_decision_flips_or_confidence_drops_by_half():
    quiet, dropping, flipping = _layer("quiet", 0, 1), _layer("drop", 1, 1), _layer("flip", 2, 1)
    scores = [
        _scores(quiet, [[0.6]], [[0.3]]),       # drop 0.3: not flagged
        _scores(dropping, [[0.4]], [[0.3]]),    # drop 0.5: flagged
        _scores(flipping, [[0.3]], [[0.35]]),   # flip: flagged
    ]

    stats = summarise_class(0, [quiet, dropping, flipping], scores, np.array([0]), 0.0, 1e-6)

    assert stats.flagged_layers == ["drop", "flip"]


def test_layer_statistics_are_normalised_by_width():
    narrow, wide = _layer("narrow", 0, 1), _layer("wide", 1, 4)
    scores = [_scores(narrow, [[0.5]], [[0.1]]),
              _scores(wide, [[0.5], [0.9], [0.9], [0.9]], [[0.1]] * 4)]

    stats = summarise_class(0, [narrow, wide], scores, np.array([0]), 0.1, 1e-6)
    layers = stats.layers.set_index("layer")

    assert layers.loc["narrow", "normalised_criticality"] == pytest.approx(0.4)
    assert layers.loc["wide", "normalised_criticality"] == pytest.approx(0.1)
    assert layers.loc["wide", "max_criticality"] == pytest.approx(0.4)
    assert layers.loc["wide", "neurons_above_tau"] == 1


def test_ranking_breaks_ties_by_max_then_layer_order_then_index():
    early, late = _layer("early", 0, 2), _layer("late", 1, 2)
    # All four neurons have mean 0.25 (exact in binary); late[1] has the larger max.
    scores = [_scores(early, [[0.5, 0.5], [0.5, 0.5]], [[0.1, 0.1]] * 2, unmasked=0.75),
              _scores(late, [[0.5, 0.5], [0.25, 0.75]], [[0.1, 0.1]] * 2, unmasked=0.75)]

    stats = summarise_class(0, [early, late], scores, np.array([0, 0]), 0.0, 1e-6)
    order = [(row.layer, row.index) for row in stats.ranking().itertuples()]

    assert order == [("late", 1), ("early", 0), ("early", 1), ("late", 0)]
