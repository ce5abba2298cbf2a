"""Tables for analysts: one row per neuron and per layer, for every analysed class."""

from __future__ import annotations

import pandas as pd

from nca_onnx.metric.statistics import LAYER_COLUMNS, NEURON_COLUMNS, ClassStatistics

__all__ = ["layer_table", "neuron_table"]


def neuron_table(statistics: list[ClassStatistics] | tuple[ClassStatistics, ...]) -> pd.DataFrame:
    """`class`, NEURON_COLUMNS and `rank`; `layer` is the ONNX node name."""
    frames = [stats.neurons.assign(**{"class": stats.label}) for stats in statistics]
    return pd.concat(frames, ignore_index=True)[["class", *NEURON_COLUMNS, "rank"]]


def layer_table(statistics: list[ClassStatistics] | tuple[ClassStatistics, ...]) -> pd.DataFrame:
    """`class` and LAYER_COLUMNS, one row per analysed layer and class."""
    frames = [stats.layers.assign(**{"class": stats.label}) for stats in statistics]
    return pd.concat(frames, ignore_index=True)[["class", *LAYER_COLUMNS]]
