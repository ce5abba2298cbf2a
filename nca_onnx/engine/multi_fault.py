"""The engine for masking configurations: several neurons, several layers, all rows at once."""

from __future__ import annotations

import logging
import time
from typing import Sequence

import numpy as np

from nca_onnx.engine.cut_engine import DEFAULT_MEMORY_BUDGET_BYTES, EngineCounters
from nca_onnx.engine.session import make_session
from nca_onnx.errors import ParameterError
from nca_onnx.graph.cut import activation_model, is_batched, model_bytes_per_row, value_infos
from nca_onnx.graph.load import LoadedModel
from nca_onnx.graph.multi_fault import MultiFaultGraph, build_multi_fault
from nca_onnx.graph.neurons import Layer, fault_values
from nca_onnx.graph.probability import PROBABILITIES, with_probabilities

__all__ = ["Configuration", "MultiFaultEngine", "plan_rows"]

logger = logging.getLogger(__name__)

#: One masking configuration: the (layer, neuron index) pairs failed together.
Configuration = Sequence[tuple[Layer, int]]


def plan_rows(bytes_per_row: int, memory_budget_bytes: int, images: int,
              configurations: int) -> tuple[int, int]:
    """(configurations per run, images per run) such that their product fits the budget."""
    rows = max(1, memory_budget_bytes // max(bytes_per_row, 1))
    images_per_run = max(1, min(images, rows))
    return max(1, min(configurations, rows // images_per_run)), images_per_run


def _involved_layers(configurations: Sequence[Configuration]) -> list[Layer]:
    found: dict[str, Layer] = {}
    for configuration in configurations:
        for layer, neuron in configuration:
            if not 0 <= int(neuron) < layer.neurons:
                raise ParameterError(f"neuron {neuron} of '{layer.name}' does not exist: the "
                                     f"layer has neurons 0 to {layer.neurons - 1}")
            found.setdefault(layer.name, layer)
    return sorted(found.values(), key=lambda layer: layer.position)


def _keep_matrices(graph: MultiFaultGraph,
                   configurations: Sequence[Configuration]) -> list[np.ndarray]:
    position = {layer.name: index for index, layer in enumerate(graph.layers)}
    keeps = [np.ones((len(configurations), layer.neurons), dtype=np.float32)
             for layer in graph.layers]
    for row, configuration in enumerate(configurations):
        for layer, neuron in configuration:
            keeps[position[layer.name]][row, int(neuron)] = 0.0
    return keeps


class MultiFaultEngine:
    """Class probabilities of a batch under R masking configurations, in few runs.

    All configurations of one call share one graph (graph.multi_fault): row r of the
    keep inputs is configuration r, and an empty configuration is the intact model
    computed by the same kernels. Runs are sized by the memory budget.
    """

    def __init__(self, model: LoadedModel, fault: str, providers: list[str],
                 memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES) -> None:
        self._model = model
        self._fault = fault
        self._providers = providers
        self._budget = memory_budget_bytes
        self._prefix_images = max(1, memory_budget_bytes // model_bytes_per_row(model))
        self.counters = EngineCounters()

    def _run(self, session, feeds: dict) -> np.ndarray:
        started = time.perf_counter()
        result = session.run([PROBABILITIES], feeds)[0]
        self.counters.runtime_s += time.perf_counter() - started
        self.counters.runs += 1
        return result

    def _activations(self, graph: MultiFaultGraph, inputs: np.ndarray) -> list[np.ndarray]:
        """The boundary tensors of all images, computed by the intact model in chunks."""
        model = self._model
        fetched = [name for name in graph.boundary if name != model.input_name]
        values: dict[str, np.ndarray] = {model.input_name: inputs}
        if fetched:
            session = make_session(activation_model(model, fetched), self._providers)
            infos = value_infos(model.proto)
            parts: dict[str, list[np.ndarray]] = {name: [] for name in fetched}
            for start in range(0, len(inputs), self._prefix_images):
                chunk = inputs[start:start + self._prefix_images]
                started = time.perf_counter()
                outputs = session.run(fetched, {model.input_name: chunk})
                self.counters.runtime_s += time.perf_counter() - started
                self.counters.runs += 1
                for name, value in zip(fetched, outputs):
                    parts[name].append(value)
            for name in fetched:
                batched = is_batched(infos.get(name))
                values[name] = np.concatenate(parts[name]) if batched else parts[name][0]
        return [values[name] for name in graph.boundary]

    def _intact(self, inputs: np.ndarray, count: int) -> np.ndarray:
        """No configuration masks anything: one plain forward pass, repeated."""
        model = self._model
        session = make_session(with_probabilities(model.proto, model.output_name,
                                                  model.output_is_probability),
                               self._providers)
        parts = [self._run(session, {model.input_name: inputs[start:start + self._prefix_images]})
                 for start in range(0, len(inputs), self._prefix_images)]
        return np.repeat(np.concatenate(parts)[np.newaxis], count, axis=0)

    def probabilities(self, configurations: Sequence[Configuration],
                      inputs: np.ndarray) -> np.ndarray:
        """Class probabilities [R, N, classes] of `inputs` [N, ...] under each configuration.

        Cost: one graph and session for the layers involved, one pass of the intact
        model up to the earliest of them, then R x N rows through the rest, in runs
        that fit the memory budget.

        Raises:
            ParameterError: no configuration, no input, or a neuron index out of range.
            ModelError: a layer does not reach the class-score output.
        """
        if not configurations:
            raise ParameterError("no masking configuration to evaluate")
        if len(inputs) == 0:
            raise ParameterError("no input to evaluate the masking configurations on")
        started = time.perf_counter()
        layers = _involved_layers(configurations)
        if not layers:
            self.counters.setup_s += time.perf_counter() - started
            return self._intact(inputs, len(configurations))

        graph = build_multi_fault(self._model, layers, [
            fault_values(self._model.proto, layer, self._fault) for layer in layers])
        session = make_session(graph.proto, self._providers)
        keeps = _keep_matrices(graph, configurations)
        activations = self._activations(graph, inputs)
        infos = value_infos(self._model.proto)
        batched = [name == self._model.input_name or is_batched(infos.get(name))
                   for name in graph.boundary]
        self.counters.setup_s += time.perf_counter() - started

        count, rows = len(inputs), len(configurations)
        per_run, images_per_run = plan_rows(graph.bytes_per_row, self._budget, count, rows)
        logger.debug("%d configurations over %d layers: %d x %d images per run", rows,
                     len(layers), per_run, images_per_run)
        result: np.ndarray | None = None
        for first in range(0, rows, per_run):
            last = min(first + per_run, rows)
            for start in range(0, count, images_per_run):
                stop = min(start + images_per_run, count)
                feeds = {name: value[start:stop] if whole else value for name, value, whole
                         in zip(graph.boundary, activations, batched)}
                feeds.update({name: keep[first:last]
                              for name, keep in zip(graph.keep_inputs, keeps)})
                probabilities = self._run(session, feeds).reshape(last - first, stop - start, -1)
                if result is None:
                    result = np.empty((rows, count, probabilities.shape[-1]), dtype=np.float32)
                result[first:last, start:stop] = probabilities
        self.counters.evaluations += rows * count
        return result
