"""Recompute a sample of neurons by the reference path and measure the engine's deviation."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from nca_onnx.engine.confidences import MaskedConfidences
from nca_onnx.engine.reference import ReferenceEvaluator
from nca_onnx.graph.neurons import Layer
from nca_onnx.metric.statistics import ClassStatistics

__all__ = ["CROSSCHECK_TOLERANCE", "CrossCheck", "CrossCheckedNeuron", "cross_check",
           "pick_neurons"]

logger = logging.getLogger(__name__)

CROSSCHECK_TOLERANCE = 1e-5


@dataclass(frozen=True)
class CrossCheckedNeuron:
    layer: str
    index: int
    reason: str
    max_abs_deviation: float


@dataclass(frozen=True)
class CrossCheck:
    """Largest |engine - reference| of the masked confidences m_i and m_j."""

    neurons: tuple[CrossCheckedNeuron, ...]
    tolerance: float

    @property
    def max_abs_deviation(self) -> float:
        return max((n.max_abs_deviation for n in self.neurons), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_abs_deviation <= self.tolerance


def pick_neurons(statistics: list[ClassStatistics], layers: list[Layer], count: int,
                 seed: int) -> list[tuple[str, int, str]]:
    """(layer, index, reason): the most critical neurons of each class, then random ones."""
    wanted_top = (count + 1) // 2
    picked: list[tuple[str, int, str]] = []
    for stats in statistics:
        for row in stats.ranking(wanted_top).itertuples():
            if len(picked) < wanted_top and (row.layer, row.index) not in \
                    {(p[0], p[1]) for p in picked}:
                picked.append((row.layer, int(row.index), "most-critical"))

    everything = [(layer.name, index) for layer in layers for index in range(layer.neurons)]
    chosen = {(p[0], p[1]) for p in picked}
    remaining = [item for item in everything if item not in chosen]
    rng = np.random.default_rng(seed)
    for position in rng.permutation(len(remaining))[:count - len(picked)]:
        layer, index = remaining[position]
        picked.append((layer, index, "random"))
    return picked


def cross_check(reference: ReferenceEvaluator, layers: list[Layer],
                scores: dict[str, MaskedConfidences], picks: list[tuple[str, int, str]],
                tolerance: float = CROSSCHECK_TOLERANCE) -> CrossCheck:
    """Compare the engine's masked confidences with a full re-computation per neuron.

    Cost: one session and one full forward pass per picked neuron.
    """
    by_name = {layer.name: layer for layer in layers}
    checked = []
    for layer_name, index, reason in picks:
        recomputed = reference.evaluate(by_name[layer_name], [index])
        engine = scores[layer_name]
        row = int(np.flatnonzero(engine.neurons == index)[0])
        deviation = max(
            float(np.abs(recomputed.true_class[0] - engine.true_class[row]).max()),
            float(np.abs(recomputed.best_other[0] - engine.best_other[row]).max()),
        )
        checked.append(CrossCheckedNeuron(layer_name, index, reason, deviation))
        logger.debug("cross-check %s[%d]: %.3g", layer_name, index, deviation)
    return CrossCheck(tuple(checked), tolerance)
