"""Per-neuron and per-layer statistics of criticality, flagged layers and the ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nca_onnx.engine.confidences import MaskedConfidences
from nca_onnx.graph.neurons import Layer
from nca_onnx.metric.criticality import FLAG_DROP, confidence_drop, criticality

__all__ = ["NEURON_COLUMNS", "LAYER_COLUMNS", "ClassStatistics", "summarise_class"]

NEURON_COLUMNS = ["layer", "index", "mean", "std", "min", "max", "max_drop",
                  "decision_flips", "anti_critical_images"]
LAYER_COLUMNS = ["layer", "op_type", "position", "neurons", "normalised_criticality",
                 "max_criticality", "neurons_above_tau", "decision_flips", "flagged"]


@dataclass(frozen=True)
class ClassStatistics:
    """Criticality statistics of one analysed class.

    `neurons` has NEURON_COLUMNS plus `rank` (1 = most critical) and is in layer
    order; `layers` has LAYER_COLUMNS in layer order.
    """

    label: int
    images: int
    neurons: pd.DataFrame
    layers: pd.DataFrame

    @property
    def flagged_layers(self) -> list[str]:
        return self.layers.loc[self.layers["flagged"], "layer"].tolist()

    def ranking(self, top: int | None = None) -> pd.DataFrame:
        """Neurons from most to least critical (METHOD.md tie-breaking)."""
        ranked = self.neurons.sort_values("rank")
        return ranked if top is None else ranked.head(top)


def _neuron_rows(layer: Layer, scores: MaskedConfidences, columns: np.ndarray, tau: float,
                 noise_floor: float) -> dict[str, np.ndarray]:
    unmasked = scores.unmasked[:, columns]
    true_class = scores.true_class[:, columns]
    best_other = scores.best_other[:, columns]
    values = criticality(unmasked, true_class, best_other, tau, noise_floor)
    drop = confidence_drop(unmasked, true_class, noise_floor)
    return {
        "layer": np.full(len(scores.neurons), layer.name, dtype=object),
        "index": scores.neurons,
        "mean": values.mean(axis=1),
        "std": values.std(axis=1),
        "min": values.min(axis=1),
        "max": values.max(axis=1),
        "max_drop": drop.max(axis=1),
        "decision_flips": (true_class <= best_other).sum(axis=1),
        "anti_critical_images": (values < 0).sum(axis=1),
        "position": np.full(len(scores.neurons), layer.position),
    }


def _rank(neurons: pd.DataFrame) -> pd.Series:
    order = neurons.sort_values(["mean", "max", "position", "index"],
                                ascending=[False, False, True, True], kind="mergesort").index
    ranks = pd.Series(0, index=neurons.index)
    ranks.loc[order] = np.arange(1, len(order) + 1)
    return ranks


def _layer_rows(layers: list[Layer], neurons: pd.DataFrame, tau: float) -> pd.DataFrame:
    rows = []
    for layer in layers:
        own = neurons[neurons["layer"] == layer.name]
        flips = int(own["decision_flips"].sum())
        rows.append({
            "layer": layer.name,
            "op_type": layer.op_type,
            "position": layer.position,
            "neurons": len(own),
            "normalised_criticality": float(own["mean"].mean()),
            "max_criticality": float(own["max"].max()),
            "neurons_above_tau": int((own["mean"] > tau).sum()),
            "decision_flips": flips,
            "flagged": bool(flips > 0 or (own["max_drop"] >= FLAG_DROP).any()),
        })
    return pd.DataFrame(rows, columns=LAYER_COLUMNS)


def summarise_class(label: int, layers: list[Layer], scores: list[MaskedConfidences],
                    labels: np.ndarray, tau: float, noise_floor: float) -> ClassStatistics:
    """Statistics of one class from the masked confidences of every analysed layer.

    Args:
        label: the class.
        layers: the analysed layers, in the order of `scores`.
        scores: masked confidences per layer over all bound images.
        labels: the label of each bound image; only images of `label` count.
        tau: criticality threshold.
        noise_floor: see `criticality`.
    """
    columns = np.flatnonzero(labels == label)
    parts = [pd.DataFrame(_neuron_rows(layer, part, columns, tau, noise_floor))
             for layer, part in zip(layers, scores)]
    neurons = pd.concat(parts, ignore_index=True)
    neurons["rank"] = _rank(neurons)
    layer_table = _layer_rows(layers, neurons, tau)
    return ClassStatistics(label, len(columns), neurons.drop(columns="position"), layer_table)
