"""Enumerate the layers of a model and their neurons, as METHOD.md defines them."""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass

import numpy as np
import onnx

from nca_onnx.errors import ModelError, ParameterError
from nca_onnx.graph.load import initializer_array

__all__ = ["FAULT_MODELS", "Layer", "find_layers", "fault_values", "select_layers"]

logger = logging.getLogger(__name__)

FAULT_MODELS = ("zero-weights", "dead-output")
_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16}


@dataclass(frozen=True)
class Layer:
    """A node whose output channels are neurons.

    `output` is the tensor where a neuron's fault shows: the node's output, or the
    output of the bias Add that follows a MatMul. `channel_axis` indexes that tensor.
    """

    name: str
    op_type: str
    position: int
    weight: str
    bias: str | None
    bias_node: str | None
    output: str
    neurons: int
    weight_shape: tuple[int, ...]
    groups: int
    channel_axis: int
    output_rank: int

    def describe(self) -> dict:
        """The layer entry of the evidence report."""
        return {
            "name": self.name,
            "op_type": self.op_type,
            "position": self.position,
            "neurons": self.neurons,
            "weight": self.weight,
            "weight_shape": list(self.weight_shape),
            "bias": self.bias,
            "bias_node": self.bias_node,
            "groups": self.groups,
            "output": self.output,
        }


def _attribute(node: onnx.NodeProto, name: str, default):
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _rank(shapes: dict[str, int], name: str, fallback: int) -> int:
    return shapes.get(name, fallback)


def _conv_layer(node, position, weights, shapes) -> Layer | None:
    weight = weights.get(node.input[1])
    if weight is None:
        return None
    groups = _attribute(node, "group", 1)
    dims = tuple(weight.dims)
    neurons = dims[0] if node.op_type == "Conv" else dims[1] * groups
    bias = node.input[2] if len(node.input) > 2 and node.input[2] in weights else None
    return Layer(node.name, node.op_type, position, weight.name, bias, None, node.output[0],
                 neurons, dims, groups, 1, _rank(shapes, node.output[0], len(dims)))


def _gemm_layer(node, position, weights, shapes) -> Layer | None:
    weight = weights.get(node.input[1])
    if weight is None or len(weight.dims) != 2:
        return None
    dims = tuple(weight.dims)
    neurons = dims[0] if _attribute(node, "transB", 0) else dims[1]
    bias = node.input[2] if len(node.input) > 2 and node.input[2] in weights else None
    return Layer(node.name, "Gemm", position, weight.name, bias, None, node.output[0],
                 neurons, dims, 1, 1, 2)


def _bias_add_after(node, consumers, weights, neurons) -> onnx.NodeProto | None:
    """The Add that carries a MatMul's bias, when it is the MatMul's only consumer."""
    users = consumers.get(node.output[0], [])
    if len(users) != 1 or users[0].op_type != "Add":
        return None
    add = users[0]
    other = add.input[1] if add.input[0] == node.output[0] else add.input[0]
    bias = weights.get(other)
    if bias is None or int(np.prod(bias.dims)) != neurons or bias.dims[-1] != neurons:
        return None
    return add


def _matmul_layer(node, position, weights, shapes, consumers) -> Layer | None:
    weight = weights.get(node.input[1])
    if weight is None or len(weight.dims) != 2:
        return None
    dims = tuple(weight.dims)
    neurons = dims[1]
    rank = _rank(shapes, node.output[0], 2)
    add = _bias_add_after(node, consumers, weights, neurons)
    if add is None:
        return Layer(node.name, "MatMul", position, weight.name, None, None, node.output[0],
                     neurons, dims, 1, rank - 1, rank)
    bias = add.input[1] if add.input[0] == node.output[0] else add.input[0]
    return Layer(node.name, "MatMul", position, weight.name, bias, add.name, add.output[0],
                 neurons, dims, 1, rank - 1, rank)


def find_layers(proto: onnx.ModelProto) -> list[Layer]:
    """Every layer with neurons, in graph (topological) order.

    Only float weights held in initializers count; a node whose weight is computed
    at run time or quantised is not a layer here.

    Raises:
        ModelError: the model has no layer with weights to mask.
    """
    graph = proto.graph
    weights = {t.name: t for t in graph.initializer if t.data_type in _FLOAT_TYPES}
    shapes = {
        value.name: len(value.type.tensor_type.shape.dim)
        for value in list(graph.value_info) + list(graph.output)
        if value.type.tensor_type.HasField("shape")
    }
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    layers = []
    for node in graph.node:
        if node.domain not in ("", "ai.onnx"):
            continue
        position = len(layers)
        if node.op_type in ("Conv", "ConvTranspose"):
            layer = _conv_layer(node, position, weights, shapes)
        elif node.op_type == "Gemm":
            layer = _gemm_layer(node, position, weights, shapes)
        elif node.op_type == "MatMul":
            layer = _matmul_layer(node, position, weights, shapes, consumers)
        else:
            layer = None
        if layer is not None:
            layers.append(layer)
            logger.debug("layer %s: %s with %d neurons", layer.name, layer.op_type,
                         layer.neurons)

    if not layers:
        raise ModelError(
            "the model has no Conv, ConvTranspose, Gemm or MatMul node with weights in an "
            "initializer, so there are no neurons to mask"
        )
    return layers


def select_layers(layers: list[Layer], patterns: list[str] | None) -> list[Layer]:
    """The layers whose node name matches any of the glob patterns (all when None).

    Raises:
        ParameterError: no layer matches.
    """
    if not patterns:
        return list(layers)
    chosen = [layer for layer in layers if any(fnmatch.fnmatchcase(layer.name, p)
                                                for p in patterns)]
    if not chosen:
        examples = ", ".join(layer.name for layer in layers[:5])
        raise ParameterError(
            f"no layer name matches {patterns}; layer names look like: {examples} "
            "(run 'nca-onnx inspect' for the full list)"
        )
    return chosen


def _gemm_bias_per_unit(proto: onnx.ModelProto, layer: Layer) -> np.ndarray:
    node = next(n for n in proto.graph.node if n.name == layer.name)
    beta = _attribute(node, "beta", 1.0)
    bias = initializer_array(proto, layer.bias).astype(np.float64)
    return beta * np.broadcast_to(bias.reshape(-1), (layer.neurons,))


def fault_values(proto: onnx.ModelProto, layer: Layer, fault: str) -> np.ndarray:
    """The value each neuron's output channel takes when the neuron fails.

    zero-weights keeps the bias (METHOD.md: a Conv channel becomes b[k]);
    dead-output sets the channel to 0.

    Raises:
        ParameterError: the fault model is unknown.
    """
    if fault not in FAULT_MODELS:
        raise ParameterError(f"fault model '{fault}' is not known; use one of {FAULT_MODELS}")
    if fault == "dead-output" or layer.bias is None:
        return np.zeros(layer.neurons, dtype=np.float32)
    if layer.op_type == "Gemm":
        return _gemm_bias_per_unit(proto, layer).astype(np.float32)
    return initializer_array(proto, layer.bias).reshape(-1).astype(np.float32)
