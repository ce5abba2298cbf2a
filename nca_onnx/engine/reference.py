"""The reference path: zero a filter in the initializer, new session, full forward pass."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import onnx
from onnx import numpy_helper

from nca_onnx.engine.confidences import MaskedConfidences, split_confidences
from nca_onnx.engine.session import make_session
from nca_onnx.graph.load import LoadedModel
from nca_onnx.graph.neurons import Layer
from nca_onnx.graph.probability import PROBABILITIES, with_probabilities

__all__ = ["ReferenceEvaluator", "faulty_model", "masked_model"]

logger = logging.getLogger(__name__)


def _zero_filter(weight: np.ndarray, layer: Layer, neuron: int, transposed_b: bool) -> None:
    if layer.op_type == "Conv":
        weight[neuron] = 0
    elif layer.op_type == "ConvTranspose":
        per_group = weight.shape[1]
        inputs_per_group = weight.shape[0] // layer.groups
        group = neuron // per_group
        weight[group * inputs_per_group:(group + 1) * inputs_per_group, neuron % per_group] = 0
    elif layer.op_type == "Gemm" and transposed_b:
        weight[neuron, :] = 0
    else:
        weight[:, neuron] = 0


def _replace_initializer(proto: onnx.ModelProto, name: str, node_name: str,
                         value: np.ndarray) -> None:
    """Point the layer's node at a private, modified copy of an initializer.

    A weight shared with other nodes must not change for them, so the copy gets a
    new name and only this node is rewired.
    """
    taken = {tensor.name for tensor in proto.graph.initializer}
    private = f"{name}__nca_fault"
    while private in taken:
        private += "_"
    proto.graph.initializer.append(numpy_helper.from_array(value, private))
    node = next(n for n in proto.graph.node if n.name == node_name)
    for index, input_name in enumerate(node.input):
        if input_name == name:
            node.input[index] = private


def masked_model(model: LoadedModel, neurons: Sequence[tuple[Layer, int]],
                 fault: str) -> onnx.ModelProto:
    """A copy of the probability model with several neurons failed at once in its initializers.

    `neurons` holds (layer, neuron index) pairs, in any layers; an empty sequence gives
    the intact probability model. Cost: copies the whole model (a few tens of MB for a
    mobile CNN).
    """
    proto = with_probabilities(model.proto, model.output_name, model.output_is_probability)
    initializers = {t.name: t for t in proto.graph.initializer}
    by_layer: dict[str, tuple[Layer, list[int]]] = {}
    for layer, neuron in neurons:
        by_layer.setdefault(layer.name, (layer, []))[1].append(int(neuron))

    for layer, indices in by_layer.values():
        node = next(n for n in proto.graph.node if n.name == layer.name)
        transposed_b = any(a.name == "transB" and a.i for a in node.attribute)
        weight = numpy_helper.to_array(initializers[layer.weight]).copy()
        for neuron in indices:
            _zero_filter(weight, layer, neuron, transposed_b)
        _replace_initializer(proto, layer.weight, layer.name, weight)

        if fault == "dead-output" and layer.bias is not None:
            bias = numpy_helper.to_array(initializers[layer.bias]).copy()
            if bias.size == 1:
                # A bias shared by all units is spread out so that one unit can lose it.
                bias = np.full(layer.neurons, bias.item(), dtype=bias.dtype)
            bias[..., indices] = 0
            _replace_initializer(proto, layer.bias, layer.bias_node or layer.name, bias)
    return proto


def faulty_model(model: LoadedModel, layer: Layer, neuron: int, fault: str) -> onnx.ModelProto:
    """A copy of the probability model with one neuron failed in its initializers.

    Cost: copies the whole model (a few tens of MB for a mobile CNN).
    """
    return masked_model(model, [(layer, neuron)], fault)


class ReferenceEvaluator:
    """Obviously right and slow: one session and one full forward pass per neuron."""

    def __init__(self, model: LoadedModel, fault: str, providers: list[str],
                 inputs: np.ndarray, labels: np.ndarray) -> None:
        self._model = model
        self._fault = fault
        self._providers = providers
        self._inputs = inputs
        self._labels = labels
        clean = with_probabilities(model.proto, model.output_name, model.output_is_probability)
        self._unmasked = self._true_class(make_session(clean, providers))[0]

    def _true_class(self, session) -> tuple[np.ndarray, np.ndarray]:
        probabilities = session.run([PROBABILITIES], {self._model.input_name: self._inputs})[0]
        return split_confidences(probabilities, self._labels)

    def evaluate(self, layer: Layer, neurons: Sequence[int]) -> MaskedConfidences:
        """Confidences with each neuron failed alone; one session per neuron."""
        true_rows, other_rows = [], []
        for neuron in neurons:
            proto = faulty_model(self._model, layer, int(neuron), self._fault)
            true_class, best_other = self._true_class(make_session(proto, self._providers))
            true_rows.append(true_class)
            other_rows.append(best_other)
        count = len(true_rows)
        return MaskedConfidences(
            layer=layer.name,
            neurons=np.asarray(neurons, dtype=np.int64),
            unmasked=np.tile(self._unmasked, (count, 1)),
            true_class=np.stack(true_rows),
            best_other=np.stack(other_rows),
        )
