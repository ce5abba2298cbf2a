"""The multi-fault graph: one keep input per layer, tiled at the cut, folded further on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nca_onnx.engine.session import make_session
from nca_onnx.errors import ModelError, ParameterError
from nca_onnx.graph.load import load_model
from nca_onnx.graph.multi_fault import build_multi_fault, keep_input_name
from nca_onnx.graph.neurons import fault_values, find_layers


def _graph(model, layers, fault="zero-weights"):
    return build_multi_fault(model, layers, [fault_values(model.proto, layer, fault)
                                             for layer in layers])


def test_keep_inputs_follow_graph_order_whatever_the_order_given(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    layers = find_layers(model.proto)

    graph = _graph(model, list(reversed(layers)))

    assert [layer.name for layer in graph.layers] == [layer.name for layer in layers]
    inputs = {value.name: value for value in graph.proto.graph.input}
    for position, layer in enumerate(layers):
        dims = inputs[keep_input_name(position)].type.tensor_type.shape.dim
        assert dims[1].dim_value == layer.neurons
    make_session(graph.proto, ["CPUExecutionProvider"])  # onnxruntime accepts it


def test_the_suffix_starts_at_the_earliest_layer(toy_folder):
    model = load_model(toy_folder / "residual.onnx")
    layers = {layer.name: layer for layer in find_layers(model.proto)}
    chosen = [layers[name] for name in layers if "branch2" in name or "stem" in name]

    graph = _graph(model, chosen)

    assert graph.boundary[0] == chosen[0].output
    produced = {name for node in graph.proto.graph.node for name in node.output}
    assert chosen[1].output in produced  # the later layer is masked in place


def test_layers_on_parallel_branches_are_both_cut(toy_folder):
    model = load_model(toy_folder / "concat.onnx")
    layers = {layer.name: layer for layer in find_layers(model.proto)}
    left, right = (next(layer for name, layer in layers.items() if side in name)
                   for side in ("left", "right"))

    graph = _graph(model, [right, left])

    assert set(graph.boundary[:2]) == {left.output, right.output}


def test_a_layer_given_twice_is_refused(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    layer = find_layers(model.proto)[0]

    with pytest.raises(ParameterError, match="given more than once"):
        _graph(model, [layer, layer])


def test_fault_values_of_the_wrong_size_are_refused(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    layer = find_layers(model.proto)[0]

    with pytest.raises(ParameterError, match="entries for its"):
        build_multi_fault(model, [layer], [np.zeros(layer.neurons + 1, np.float32)])


def test_a_layer_that_does_not_reach_the_output_is_refused(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    layer = replace(find_layers(model.proto)[0], output="not_a_tensor")

    with pytest.raises(ModelError, match="does not reach the output"):
        _graph(model, [layer])


def test_no_layer_is_refused(toy_folder):
    model = load_model(toy_folder / "conv.onnx")

    with pytest.raises(ParameterError, match="no layer to mask"):
        build_multi_fault(model, [], [])
