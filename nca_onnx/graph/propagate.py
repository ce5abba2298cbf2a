"""Follow a neuron's fault through the channel-local nodes after its layer.

A fault in channel k stays in channel k through element-wise nodes, per-channel
constants, batch normalisation, pooling and depthwise convolutions. Its value there does not
depend on the image, so it can be computed once, and the cut can move to the end of
that chain: the engine then skips those nodes for every faulty copy of the batch.
"""

from __future__ import annotations

import logging

import numpy as np
import onnx
from onnx import helper

from nca_onnx.graph.cut import copy_renamed
from nca_onnx.graph.load import LoadedModel
from nca_onnx.graph.neurons import Layer

__all__ = [
    "FAULT_MAP_INPUT",
    "FAULT_MAP_OUTPUT",
    "channel_local_chain",
    "constant_channels",
    "fault_map_model",
    "spatial_shape",
]

logger = logging.getLogger(__name__)

FAULT_MAP_INPUT = "nca_fault_map_in"
FAULT_MAP_OUTPUT = "nca_fault_map_out"
# One data input, each output channel computed from the same input channel alone.
_PER_CHANNEL = {"Relu", "Clip", "LeakyRelu", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh",
                "Identity", "Elu", "Selu", "Softplus", "Neg", "Abs", "MaxPool", "AveragePool",
                "GlobalAveragePool", "GlobalMaxPool"}
_BINARY = {"Add", "Sub", "Mul", "Div"}


def _per_channel_constant(value: onnx.TensorProto | None, rank: int) -> bool:
    """A constant that broadcasts along channel axis 1 only (or is a scalar)."""
    if value is None or len(value.dims) > rank:
        return False
    dims = [1] * (rank - len(value.dims)) + list(value.dims)
    return all(size == 1 for position, size in enumerate(dims) if position != 1)


def _is_channel_local(node: onnx.NodeProto, source: str, channels: int, rank: int,
                      initializers: dict[str, onnx.TensorProto]) -> bool:
    others = [name for name in node.input if name and name != source]
    if node.input[0] != source and node.op_type not in _BINARY:
        return False
    if len(node.output) != 1:
        return False
    if node.op_type in _PER_CHANNEL:
        return all(name in initializers for name in others)
    if node.op_type == "BatchNormalization":
        return all(name in initializers for name in others)
    if node.op_type in _BINARY:
        return len(others) == 1 and _per_channel_constant(initializers.get(others[0]), rank)
    if node.op_type == "Conv":
        weight = initializers.get(node.input[1])
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        return (weight is not None and group == channels and list(weight.dims[:2]) ==
                [channels, 1] and all(name in initializers for name in node.input[1:] if name))
    return False


def channel_local_chain(model: LoadedModel, layer: Layer) -> list[onnx.NodeProto]:
    """The nodes after `layer` that a single channel's fault passes without spreading.

    The chain stops at the first tensor used by more than one node, at the model
    output, and wherever a node mixes channels. Only NCHW conv-like outputs chain.
    """
    if layer.channel_axis != 1 or layer.output_rank != 4 or \
            spatial_shape(model, layer.output) is None:
        return []
    graph = model.proto.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {value.name for value in graph.output}

    chain = []
    tensor = layer.output
    while tensor not in outputs and len(consumers.get(tensor, [])) == 1:
        node = consumers[tensor][0]
        if not _is_channel_local(node, tensor, layer.neurons, layer.output_rank, initializers):
            break
        chain.append(node)
        tensor = node.output[0]
    logger.debug("fault of %s passes %d channel-local nodes", layer.name, len(chain))
    return chain


def fault_map_model(model: LoadedModel, layer: Layer,
                    chain: list[onnx.NodeProto]) -> onnx.ModelProto:
    """A small model mapping the layer output [1, C, H, W] through the chain."""
    used = {name for node in chain for name in node.input}
    nodes = [copy_renamed(node, {layer.output: FAULT_MAP_INPUT}) for node in chain]
    last = nodes[-1].output[0]
    nodes.append(helper.make_node("Identity", [last], [FAULT_MAP_OUTPUT],
                                  name="nca_fault_map_out"))
    graph = helper.make_graph(
        nodes, f"fault_map_{layer.name}",
        [helper.make_tensor_value_info(FAULT_MAP_INPUT, onnx.TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info(FAULT_MAP_OUTPUT, onnx.TensorProto.FLOAT, None)],
        [t for t in model.proto.graph.initializer if t.name in used])
    return helper.make_model(graph, opset_imports=model.proto.opset_import,
                             ir_version=model.proto.ir_version)


def spatial_shape(model: LoadedModel, tensor: str) -> tuple[int, ...] | None:
    """The static dims after the channel axis, or None when shape inference left them open."""
    for value in model.proto.graph.value_info:
        if value.name == tensor:
            dims = value.type.tensor_type.shape.dim[2:]
            sizes = tuple(d.dim_value for d in dims)
            return sizes if sizes and all(size > 0 for size in sizes) else None
    return None


def constant_channels(values: np.ndarray, spatial: tuple[int, ...]) -> np.ndarray:
    """[1, C, *spatial] with channel c filled with values[c]."""
    return np.broadcast_to(values.reshape(1, -1, *([1] * len(spatial))),
                           (1, len(values), *spatial)).astype(np.float32)
