"""A fault is carried through channel-local nodes only, and its value there is exact."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nca_onnx.engine.session import make_session
from nca_onnx.graph.load import load_model
from nca_onnx.graph.neurons import find_layers
from nca_onnx.graph.propagate import (
    FAULT_MAP_INPUT,
    FAULT_MAP_OUTPUT,
    channel_local_chain,
    constant_channels,
    fault_map_model,
)


def _chain(model, name):
    layer = next(layer for layer in find_layers(model.proto) if layer.name == name)
    return layer, [node.op_type for node in channel_local_chain(model, layer)]


def test_chain_passes_activation_depthwise_conv_and_clip(toy_folder):
    model = load_model(toy_folder / "depthwise.onnx")

    assert _chain(model, "conv_expand")[1] == ["Relu", "Conv", "Clip"]
    assert _chain(model, "conv_dw")[1] == ["Clip"]
    assert _chain(model, "conv_project")[1] == ["GlobalAveragePool"]


def test_chain_stops_where_a_tensor_feeds_two_nodes(toy_folder):
    model = load_model(toy_folder / "residual.onnx")

    assert _chain(model, "conv_stem")[1] == ["Relu"]
    assert _chain(model, "conv_branch2")[1] == []


def test_chain_stops_at_a_product_with_a_computed_operand(tmp_path):
    # Squeeze-and-excitation: x * sigmoid(pool(x)) mixes nothing per element, but the
    # second operand depends on every position of the channel, so the chain must stop.
    weight = numpy_helper.from_array(np.ones((2, 3, 1, 1), dtype=np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["c"], name="conv"),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
        helper.make_node("Sigmoid", ["p"], ["gate"], name="gate"),
        helper.make_node("Mul", ["r", "gate"], ["scaled"], name="scale"),
        helper.make_node("GlobalAveragePool", ["scaled"], ["q"], name="pool2"),
        helper.make_node("Flatten", ["q"], ["scores"], name="flat"),
    ]
    graph = helper.make_graph(
        nodes, "se", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 2])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(tmp_path / "se.onnx"))

    assert _chain(load_model(tmp_path / "se.onnx"), "conv")[1] == ["Relu"]


def test_fault_map_is_the_chain_applied_to_constant_channels(toy_folder):
    model = load_model(toy_folder / "depthwise.onnx")
    layer, _ = _chain(model, "conv_expand")
    chain = channel_local_chain(model, layer)
    session = make_session(fault_map_model(model, layer, chain), ["CPUExecutionProvider"])
    values = np.array([-1.0, 0.5, 2.0, 0.0, 3.0, -0.2], dtype=np.float32)

    carried = session.run([FAULT_MAP_OUTPUT],
                          {FAULT_MAP_INPUT: constant_channels(values, (8, 8))})[0]

    # Relu zeroes the negative channels; the depthwise conv then leaves its bias there.
    bias = numpy_helper.to_array(next(t for t in model.proto.graph.initializer
                                      if t.name == "dw.b"))
    assert carried.shape == (1, 6, 8, 8)
    assert np.allclose(carried[0, 0], np.clip(bias[0], 0, 6))
    assert not np.allclose(carried[0, 2], carried[0, 2, 4, 4])   # borders see the padding
