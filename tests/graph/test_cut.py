"""Cutting after a layer keeps exactly what its fault can reach, residual branches included."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import toy_models
from onnx import TensorProto, helper

from nca_onnx.engine.session import make_session
from nca_onnx.errors import ModelError
from nca_onnx.graph.cut import boundary_tensors, build_suffix, downstream_nodes
from nca_onnx.graph.fault import KEEP_INPUT
from nca_onnx.graph.load import load_model
from nca_onnx.graph.neurons import fault_values, find_layers
from nca_onnx.graph.probability import PROBABILITIES

CPU = ["CPUExecutionProvider"]


def _layer(model, name):
    return next(layer for layer in find_layers(model.proto) if layer.name == name)


def test_downstream_nodes_follow_the_data_flow(toy_folder):
    model = load_model(toy_folder / "residual.onnx")

    names = [node.name for node in downstream_nodes(model.proto.graph, "branch1")]

    assert names[0] == "relu_branch_relu"
    assert "conv_stem" not in names and "add_sum" in names


def test_boundary_keeps_the_residual_branch(toy_folder):
    model = load_model(toy_folder / "residual.onnx")

    boundary = boundary_tensors(model, _layer(model, "conv_branch1"))

    assert boundary == ["branch1", "stem_relu"]


def test_suffix_runs_k_faulty_copies_and_a_clean_row(toy_folder):
    model = load_model(toy_folder / "residual.onnx")
    layer = _layer(model, "conv_branch1")
    suffix = build_suffix(model, layer, fault_values(model.proto, layer, "dead-output"))
    activations = make_session(model.proto, CPU)
    inputs = toy_models.inputs("residual", count=3)
    branch, skip = (onnx.helper.make_tensor_value_info(n, TensorProto.FLOAT, None)
                    for n in ("branch1", "stem_relu"))
    probe = onnx.ModelProto()
    probe.CopyFrom(model.proto)
    probe.graph.output.extend([branch, skip])
    values = make_session(probe, CPU).run(["branch1", "stem_relu"], {"input": inputs})

    keep = np.ones((3, layer.neurons), dtype=np.float32)
    keep[1, 0] = keep[2, 3] = 0
    feeds = {"branch1": values[0], "stem_relu": values[1], KEEP_INPUT: keep}
    rows = make_session(suffix.proto, CPU).run([PROBABILITIES], feeds)[0]

    logits = activations.run(None, {"input": inputs})[0]
    clean = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert rows.shape == (9, toy_models.CLASSES)
    assert np.allclose(rows[:3], clean, atol=1e-6)
    assert not np.allclose(rows[3:6], clean, atol=1e-6)


def test_a_layer_that_produces_the_output_can_be_cut(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    layer = _layer(model, "gemm_logits")

    suffix = build_suffix(model, layer, fault_values(model.proto, layer, "zero-weights"))

    assert suffix.boundary == ("logits",)


def test_a_layer_that_does_not_reach_the_output_is_refused(tmp_path):
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["dead"], name="dead_conv"),
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"], name="pool"),
        helper.make_node("Flatten", ["pooled"], ["scores"], name="flat"),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor("w", TensorProto.FLOAT, [2, 3, 1, 1], [0.5] * 6)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(tmp_path / "dead.onnx"))
    model = load_model(tmp_path / "dead.onnx")
    layer = _layer(model, "dead_conv")

    with pytest.raises(ModelError, match="does not reach the output"):
        build_suffix(model, layer, np.zeros(2, dtype=np.float32))
