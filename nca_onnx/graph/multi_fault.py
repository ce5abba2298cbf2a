"""Several neurons failed at once, across layers: R masking configurations in one run.

The suffix starts at the earliest tensor a fault can reach. A faulted layer whose
output is computed before that point (the earliest layer, or one on a parallel
branch) has its output tiled R times with its keep rows applied, as `build_suffix`
does for one layer; a faulted layer inside the suffix has its keep rows applied in
place on the folded [R*N, ...] tensor. Row r of every keep input together is masking
configuration r, so "no masking", each neuron alone and any combination run together.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import onnx
from onnx import helper

from nca_onnx.errors import ModelError, ParameterError
from nca_onnx.graph.cut import (
    boundary_of,
    copy_renamed,
    downstream_nodes,
    input_value_info,
    is_batched,
    nodes_bytes_per_row,
    value_infos,
)
from nca_onnx.graph.fault import fault_injection_nodes, folded_fault_nodes, tiling_nodes
from nca_onnx.graph.load import LoadedModel
from nca_onnx.graph.neurons import Layer
from nca_onnx.graph.probability import PROBABILITIES, probability_nodes

__all__ = ["MultiFaultGraph", "build_multi_fault", "keep_input_name"]

logger = logging.getLogger(__name__)

_KEEP_PREFIX = "nca_keep_"


@dataclass(frozen=True)
class MultiFaultGraph:
    """The part of a model that faults in `layers` reach, with one keep input per layer.

    Inputs: the `boundary` tensors computed before the cut, then `keep_inputs[l]`
    [R, C_l] for `layers[l]` (1 = working channel, 0 = failed); every keep input has
    the same R. Output: PROBABILITIES [R*N, classes], row r*N + n being image n with
    the faults of row r of all keep inputs.
    """

    layers: tuple[Layer, ...]
    keep_inputs: tuple[str, ...]
    proto: onnx.ModelProto
    boundary: tuple[str, ...]
    bytes_per_row: int


def keep_input_name(position: int) -> str:
    """The keep input of the `position`-th faulted layer (in graph order)."""
    return f"{_KEEP_PREFIX}{position}"


def _check(model: LoadedModel, layers: list[Layer], values: list[np.ndarray]) -> None:
    if not layers:
        raise ParameterError("no layer to mask: pass at least one layer and its fault values")
    names = [layer.name for layer in layers]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ParameterError(f"layer(s) {repeated} given more than once; pass each layer once")
    if len(values) != len(layers):
        raise ParameterError(f"{len(layers)} layers but {len(values)} fault value arrays")
    graph = model.proto.graph
    for layer, value in zip(layers, values):
        if value.shape[0] != layer.neurons:
            raise ParameterError(f"fault values of '{layer.name}' have {value.shape[0]} entries "
                                 f"for its {layer.neurons} neurons")
        produced = {name for node in downstream_nodes(graph, layer.output)
                    for name in node.output}
        if model.output_name not in produced and model.output_name != layer.output:
            raise ModelError(f"layer '{layer.name}' does not reach the output "
                             f"'{model.output_name}'; leave it out of the masked layers")


def _elem_type(infos: dict[str, onnx.ValueInfoProto], tensor: str) -> int:
    value = infos.get(tensor)
    return value.type.tensor_type.elem_type if value is not None else onnx.TensorProto.FLOAT


def build_multi_fault(model: LoadedModel, layers: Sequence[Layer],
                      fault_values: Sequence[np.ndarray]) -> MultiFaultGraph:
    """The graph that evaluates R masking configurations over several layers in one run.

    `fault_values[l]` [C_l] is the value channel c of `layers[l]` takes when its neuron
    fails (`graph.neurons.fault_values`). The layers are put in graph order; the keep
    inputs follow that order. Copies what it needs; the model is not changed. Cost:
    linear in the number of nodes after the earliest layer.

    Raises:
        ParameterError: no layer, a layer given twice, or fault values of the wrong size.
        ModelError: a layer's output does not reach the class-score output.
    """
    pairs = sorted(zip(layers, fault_values), key=lambda pair: pair[0].position)
    layers = [layer for layer, _ in pairs]
    values = [np.asarray(value) for _, value in pairs]
    _check(model, layers, values)

    graph = model.proto.graph
    position_of = {layer.output: position for position, layer in enumerate(layers)}
    nodes = downstream_nodes(graph, list(position_of))
    produced = {name for node in nodes for name in node.output}
    initializer_names = {tensor.name for tensor in graph.initializer}
    cut_before = [layer.output for layer in layers if layer.output not in produced]
    boundary = boundary_of(nodes, cut_before, initializer_names)
    infos = value_infos(model.proto)
    keeps = [keep_input_name(position) for position in range(len(layers))]

    def masking(position: int, tile: bool):
        """Tile-and-mask a tensor from before the cut, or mask a folded one in place."""
        layer, value = layers[position], values[position]
        common = dict(fault_value=value, channel_axis=layer.channel_axis,
                      rank=layer.output_rank, elem_type=_elem_type(infos, layer.output),
                      keep_input=keeps[position], prefix=f"nca_fault{position}")
        target = f"nca_masked_{position}"
        if tile:
            return fault_injection_nodes(layer.output, target, opset=model.opset, **common)
        return folded_fault_nodes(layer.output, target, **common)

    new_nodes: list[onnx.NodeProto] = []
    new_inits: list[onnx.TensorProto] = []
    renamed: dict[str, str] = {}
    for index, name in enumerate(boundary):
        if name in position_of:
            more_nodes, more_inits = masking(position_of[name], tile=True)
            renamed[name] = f"nca_masked_{position_of[name]}"
        elif is_batched(infos.get(name)):
            more_nodes, more_inits = tiling_nodes(name, f"nca_tiled_{index}", model.opset,
                                                  str(index), keep_input=keeps[0])
            renamed[name] = f"nca_tiled_{index}"
        else:
            continue
        new_nodes += more_nodes
        new_inits += more_inits

    for node in nodes:
        new_nodes.append(copy_renamed(node, renamed))
        for name in node.output:
            if name in position_of:
                more_nodes, more_inits = masking(position_of[name], tile=False)
                new_nodes += more_nodes
                new_inits += more_inits
                renamed[name] = f"nca_masked_{position_of[name]}"
    new_nodes += [copy_renamed(node, renamed) for node in
                  probability_nodes(model.output_name, model.output_is_probability)]

    used = {name for node in nodes for name in node.input}
    initializers = [t for t in graph.initializer if t.name in used] + new_inits
    inputs = [input_value_info(name, infos.get(name)) for name in boundary]
    inputs += [helper.make_tensor_value_info(keep, onnx.TensorProto.FLOAT,
                                             ["nca_rows", layer.neurons])
               for keep, layer in zip(keeps, layers)]
    outputs = [helper.make_tensor_value_info(PROBABILITIES, onnx.TensorProto.FLOAT, None)]
    suffix = helper.make_graph(new_nodes, f"multi_fault_{len(layers)}_layers", inputs, outputs,
                               initializers)
    proto = helper.make_model(suffix, opset_imports=model.proto.opset_import,
                              ir_version=model.proto.ir_version)
    logger.debug("multi-fault graph over %d layers: %d nodes, boundary %s", len(layers),
                 len(nodes), boundary)
    return MultiFaultGraph(tuple(layers), tuple(keeps), proto, tuple(boundary),
                           nodes_bytes_per_row(nodes, infos))
