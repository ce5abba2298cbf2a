"""The engine: run the graph before a cut once, then K faulty copies of the rest at once."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from nca_onnx.engine.confidences import MaskedConfidences, split_confidences
from nca_onnx.engine.session import make_session
from nca_onnx.graph.cut import (
    activation_model,
    boundary_tensors,
    build_suffix,
    model_bytes_per_row,
)
from nca_onnx.graph.fault import KEEP_INPUT
from nca_onnx.graph.load import LoadedModel
from nca_onnx.graph.neurons import Layer, fault_values
from nca_onnx.graph.probability import PROBABILITIES
from nca_onnx.graph.propagate import (
    FAULT_MAP_INPUT,
    FAULT_MAP_OUTPUT,
    channel_local_chain,
    constant_channels,
    fault_map_model,
    spatial_shape,
)

__all__ = ["CutEngine", "EngineCounters", "plan_batch"]

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_BUDGET_BYTES = 1 << 30


@dataclass
class EngineCounters:
    """What the engine did, for the timings section of the report."""

    runtime_s: float = 0.0
    setup_s: float = 0.0
    session_s: float = 0.0
    runs: int = 0
    evaluations: int = 0
    layer_setups: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _PreparedLayer:
    layer: Layer
    session: object
    boundary: tuple[str, ...]
    activations: tuple[np.ndarray, ...]
    neurons_per_run: int
    images_per_run: int


def plan_batch(bytes_per_row: int, memory_budget_bytes: int, images: int,
               neurons: int) -> tuple[int, int]:
    """(neurons per run K, images per run) such that (K + 1) x images rows fit the budget.

    The extra row is the unmasked baseline every run carries, so the work done is
    (1 + 1/K) times the useful work: K is made as large as the budget allows, and
    the images are split into smaller chunks when that is what it takes.
    """
    rows = max(2, memory_budget_bytes // max(bytes_per_row, 1))
    neurons_per_run = max(1, min(neurons, rows - 1))
    images_per_run = max(1, min(images, rows // (neurons_per_run + 1)))
    return neurons_per_run, images_per_run


class CutEngine:
    """Masked confidences through a cut graph, K neurons x N images per run.

    Sessions and the activations before the cut are kept for the last layer asked
    for, so evaluate layers one after the other for speed.
    """

    def __init__(self, model: LoadedModel, fault: str, providers: list[str],
                 inputs: np.ndarray, labels: np.ndarray, layers: Sequence[Layer],
                 memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES) -> None:
        self._model = model
        self._fault = fault
        self._providers = providers
        self._inputs = inputs
        self._labels = labels
        self._budget = memory_budget_bytes
        self.counters = EngineCounters()
        self._prepared: _PreparedLayer | None = None

        started = time.perf_counter()
        self._chains = {layer.name: channel_local_chain(model, layer) for layer in layers}
        needed = sorted({name for layer in layers
                         for name in boundary_tensors(model, layer, self._chains[layer.name])})
        self._activation_session = make_session(activation_model(model, needed), providers)
        self._prefix_images = max(1, memory_budget_bytes // model_bytes_per_row(model))
        self.counters.setup_s += time.perf_counter() - started

    @property
    def planned_neurons_per_run(self) -> int:
        """K of the layer prepared last (0 before any)."""
        return self._prepared.neurons_per_run if self._prepared else 0

    def _run(self, session, outputs: list[str], feeds: dict) -> list[np.ndarray]:
        started = time.perf_counter()
        result = session.run(outputs, feeds)
        self.counters.runtime_s += time.perf_counter() - started
        self.counters.runs += 1
        return result

    def _activations(self, boundary: Sequence[str]) -> tuple[np.ndarray, ...]:
        """The boundary tensors for all bound images, computed in chunks."""
        fetched = [name for name in boundary if name != self._model.input_name]
        parts: dict[str, list[np.ndarray]] = {name: [] for name in fetched}
        for start in range(0, len(self._inputs), self._prefix_images):
            chunk = self._inputs[start:start + self._prefix_images]
            values = self._run(self._activation_session, fetched, {self._model.input_name: chunk})
            for name, value in zip(fetched, values):
                parts[name].append(value)
        joined = {name: np.concatenate(values) for name, values in parts.items()}
        joined[self._model.input_name] = self._inputs
        return tuple(joined[name] for name in boundary)

    def _carry_fault(self, layer: Layer, chain, values: np.ndarray) -> np.ndarray:
        """Each channel's fault value after the chain, [C, *spatial]: one tiny run."""
        spatial = spatial_shape(self._model, layer.output)
        session = make_session(fault_map_model(self._model, layer, chain), self._providers)
        carried = self._run(session, [FAULT_MAP_OUTPUT],
                            {FAULT_MAP_INPUT: constant_channels(values, spatial)})[0]
        return carried[0]

    def _prepare(self, layer: Layer) -> _PreparedLayer:
        if self._prepared is not None and self._prepared.layer == layer:
            return self._prepared

        self._prepared = None
        started = time.perf_counter()
        chain = self._chains[layer.name]
        values = fault_values(self._model.proto, layer, self._fault)
        if chain:
            values = self._carry_fault(layer, chain, values)
        suffix = build_suffix(self._model, layer, values, chain)
        built = time.perf_counter()
        session = make_session(suffix.proto, self._providers)
        self.counters.session_s += time.perf_counter() - built
        activations = self._activations(suffix.boundary)
        neurons_per_run, images_per_run = plan_batch(
            suffix.bytes_per_row, self._budget, len(self._inputs), layer.neurons)
        elapsed = time.perf_counter() - started
        self.counters.setup_s += elapsed
        self.counters.layer_setups[layer.name] = elapsed
        logger.debug("layer %s: %d neurons x %d images per run", layer.name, neurons_per_run,
                     images_per_run)
        self._prepared = _PreparedLayer(layer, session, suffix.boundary, activations,
                                        neurons_per_run, images_per_run)
        return self._prepared

    def _run_group(self, prepared: _PreparedLayer, neurons: np.ndarray,
                   start: int, stop: int) -> tuple[np.ndarray, ...]:
        """One suffix run: a baseline row plus one row per neuron, on images [start, stop)."""
        keep = np.ones((len(neurons) + 1, prepared.layer.neurons), dtype=np.float32)
        keep[np.arange(1, len(neurons) + 1), neurons] = 0.0
        feeds = {name: value[start:stop] for name, value in
                 zip(prepared.boundary, prepared.activations)}
        feeds[KEEP_INPUT] = keep
        probabilities = self._run(prepared.session, [PROBABILITIES], feeds)[0]
        probabilities = probabilities.reshape(len(neurons) + 1, stop - start, -1)
        true_class, best_other = split_confidences(probabilities, self._labels[start:stop])
        self.counters.evaluations += len(neurons) * (stop - start)
        baseline = np.broadcast_to(true_class[0], true_class[1:].shape)
        return baseline, true_class[1:], best_other[1:]

    def evaluate(self, layer: Layer, neurons: Sequence[int]) -> MaskedConfidences:
        """Confidences with each given neuron failed alone, on all bound images."""
        prepared = self._prepare(layer)
        neurons = np.asarray(neurons, dtype=np.int64)
        count = len(self._inputs)
        rows = []
        for first in range(0, len(neurons), prepared.neurons_per_run):
            group = neurons[first:first + prepared.neurons_per_run]
            chunks = [self._run_group(prepared, group, start, min(start + prepared.images_per_run,
                                                                  count))
                      for start in range(0, count, prepared.images_per_run)]
            rows.append(tuple(np.concatenate(parts, axis=1) for parts in zip(*chunks)))
        unmasked, true_class, best_other = (np.concatenate(parts) for parts in zip(*rows))
        return MaskedConfidences(layer.name, neurons, unmasked, true_class, best_other)
