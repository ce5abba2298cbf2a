"""Cut a model right after a layer: the suffix that a neuron's fault can reach."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Collection

import numpy as np
import onnx
from onnx import helper

from nca_onnx.errors import ModelError
from nca_onnx.graph.fault import KEEP_INPUT, fault_injection_nodes, tiling_nodes
from nca_onnx.graph.load import BATCH_DIM, LoadedModel
from nca_onnx.graph.neurons import Layer
from nca_onnx.graph.probability import PROBABILITIES, probability_nodes

__all__ = [
    "SuffixGraph",
    "activation_model",
    "boundary_of",
    "boundary_tensors",
    "build_suffix",
    "copy_renamed",
    "cut_tensor",
    "downstream_nodes",
    "input_value_info",
    "is_batched",
    "model_bytes_per_row",
    "nodes_bytes_per_row",
    "value_infos",
]

logger = logging.getLogger(__name__)

_MASKED = "nca_masked"
# Peak memory of a run is a few live activations; this factor turns the largest
# per-sample tensor of the suffix into a conservative bytes-per-row estimate.
_LIVE_TENSORS = 4
_ITEM_BYTES = {onnx.TensorProto.FLOAT: 4, onnx.TensorProto.DOUBLE: 8,
               onnx.TensorProto.FLOAT16: 2}


@dataclass(frozen=True)
class SuffixGraph:
    """The part of a model after one layer, with a fault-selection input.

    Inputs: the `boundary` tensors computed before the cut (the layer output first)
    and KEEP_INPUT [K, C]. Output: PROBABILITIES [K*N, classes], row k*N + n being
    image n with the faults of KEEP_INPUT row k.
    """

    layer: Layer
    proto: onnx.ModelProto
    boundary: tuple[str, ...]
    bytes_per_row: int


def downstream_nodes(graph: onnx.GraphProto,
                     tensor: str | Collection[str]) -> list[onnx.NodeProto]:
    """The nodes that depend on `tensor` (or on any of several), in graph order.

    The graph is topological, so one pass finds them.
    """
    reached = {tensor} if isinstance(tensor, str) else set(tensor)
    nodes = []
    for node in graph.node:
        if any(name in reached for name in node.input if name):
            nodes.append(node)
            reached.update(name for name in node.output if name)
    return nodes


def value_infos(proto: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    """Every typed tensor of the graph (inputs, inferred intermediates, outputs) by name."""
    graph = proto.graph
    return {v.name: v for v in list(graph.input) + list(graph.value_info) + list(graph.output)}


def boundary_of(nodes: list[onnx.NodeProto], first: list[str],
                initializers: set[str]) -> list[str]:
    """Tensors the nodes read from outside themselves: `first`, then the rest in use order."""
    produced = {name for node in nodes for name in node.output}
    boundary = list(first)
    for node in nodes:
        for name in node.input:
            if name and name not in produced and name not in initializers \
                    and name not in boundary:
                boundary.append(name)
    return boundary


def copy_renamed(node: onnx.NodeProto, renamed: dict[str, str]) -> onnx.NodeProto:
    """A copy of the node reading the tensors in `renamed` under their new names."""
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    for index, name in enumerate(copy.input):
        copy.input[index] = renamed.get(name, name)
    return copy


def is_batched(value: onnx.ValueInfoProto | None) -> bool:
    """Whether a tensor carries the batch axis first (unknown float tensors are assumed to)."""
    if value is None:
        return True
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape") or not tensor_type.shape.dim:
        return tensor_type.elem_type != onnx.TensorProto.INT64
    return tensor_type.shape.dim[0].dim_param == BATCH_DIM


def input_value_info(name: str, value: onnx.ValueInfoProto | None) -> onnx.ValueInfoProto:
    """A graph input for tensor `name`: a copy of its inferred type, else untyped float."""
    if value is None:
        return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
    copy = onnx.ValueInfoProto()
    copy.CopyFrom(value)
    return copy


def nodes_bytes_per_row(nodes: list[onnx.NodeProto],
                        infos: dict[str, onnx.ValueInfoProto]) -> int:
    """Estimated peak memory of one batch row going through `nodes`."""
    largest = 0
    for node in nodes:
        for name in node.output:
            value = infos.get(name)
            if value is None or not value.type.tensor_type.HasField("shape"):
                continue
            dims = value.type.tensor_type.shape.dim
            sizes = [d.dim_value for d in dims[1:]]
            if all(size > 0 for size in sizes):
                item = _ITEM_BYTES.get(value.type.tensor_type.elem_type, 4)
                largest = max(largest, int(np.prod(sizes)) * item)
    return max(largest, 1) * _LIVE_TENSORS


def cut_tensor(layer: Layer, chain: list[onnx.NodeProto]) -> str:
    """Where the cut falls: after the layer, or after its channel-local chain."""
    return chain[-1].output[0] if chain else layer.output


def boundary_tensors(model: LoadedModel, layer: Layer,
                     chain: list[onnx.NodeProto] | None = None) -> list[str]:
    """The tensors the suffix needs from before the cut, the cut tensor first."""
    graph = model.proto.graph
    cut = cut_tensor(layer, chain or [])
    nodes = downstream_nodes(graph, cut)
    return boundary_of(nodes, [cut], {tensor.name for tensor in graph.initializer})


def model_bytes_per_row(model: LoadedModel) -> int:
    """Estimated peak memory of one image going through the whole model."""
    return nodes_bytes_per_row(list(model.proto.graph.node), value_infos(model.proto))


def build_suffix(model: LoadedModel, layer: Layer, fault_value: np.ndarray,
                 chain: list[onnx.NodeProto] | None = None) -> SuffixGraph:
    """The suffix graph after `layer`, ready to evaluate K neuron faults in one run.

    With a channel-local `chain` (see graph.propagate), the cut falls after it and
    `fault_value` is the fault carried through it, [C, *spatial].
    Copies what it needs from `model.proto`; the model is not changed.

    Raises:
        ModelError: the layer's output does not reach the class-score output.
    """
    graph = model.proto.graph
    cut = cut_tensor(layer, chain or [])
    nodes = downstream_nodes(graph, cut)
    produced = {name for node in nodes for name in node.output}
    if model.output_name not in produced and model.output_name != cut:
        raise ModelError(
            f"layer '{layer.name}' does not reach the output '{model.output_name}'; "
            "exclude it with --layers"
        )

    initializer_names = {tensor.name for tensor in graph.initializer}
    boundary = boundary_of(nodes, [cut], initializer_names)
    infos = value_infos(model.proto)
    cut_info = infos.get(cut)
    elem_type = cut_info.type.tensor_type.elem_type if cut_info else onnx.TensorProto.FLOAT

    new_nodes, new_inits = fault_injection_nodes(
        cut, _MASKED, fault_value, layer.channel_axis, layer.output_rank, elem_type,
        model.opset,
    )
    renamed = {cut: _MASKED}
    for position, name in enumerate(boundary[1:]):
        if is_batched(infos.get(name)):
            tiled = f"nca_tiled_{position}"
            tile_nodes, tile_inits = tiling_nodes(name, tiled, model.opset, str(position))
            new_nodes += tile_nodes
            new_inits += tile_inits
            renamed[name] = tiled

    new_nodes += [copy_renamed(node, renamed) for node in
                  nodes + probability_nodes(model.output_name, model.output_is_probability)]

    used = {name for node in nodes for name in node.input}
    initializers = [t for t in graph.initializer if t.name in used] + new_inits
    inputs = [input_value_info(name, infos.get(name)) for name in boundary]
    inputs.append(helper.make_tensor_value_info(KEEP_INPUT, onnx.TensorProto.FLOAT,
                                                ["nca_k", layer.neurons]))
    outputs = [helper.make_tensor_value_info(PROBABILITIES, onnx.TensorProto.FLOAT, None)]
    suffix_graph = helper.make_graph(new_nodes, f"suffix_{layer.name}", inputs, outputs,
                                     initializers)
    proto = helper.make_model(suffix_graph, opset_imports=model.proto.opset_import,
                              ir_version=model.proto.ir_version)
    logger.debug("suffix after %s: %d nodes, boundary %s", layer.name, len(nodes), boundary)
    return SuffixGraph(layer, proto, tuple(boundary), nodes_bytes_per_row(nodes, infos))


def activation_model(model: LoadedModel, tensors: list[str]) -> onnx.ModelProto:
    """A copy of the model that also outputs the given intermediate tensors."""
    proto = onnx.ModelProto()
    proto.CopyFrom(model.proto)
    infos = value_infos(proto)
    present = {value.name for value in proto.graph.output} | {model.input_name}
    for name in tensors:
        if name not in present:
            proto.graph.output.append(input_value_info(name, infos.get(name)))
            present.add(name)
    return proto
