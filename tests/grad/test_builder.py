"""The gradient model's interface, its loss head and the errors of build_gradient_model."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from nca_onnx.errors import ModelError, ParameterError, UnsupportedOperatorError
from nca_onnx.grad import build_gradient_model, supported_operators

from .gradcheck import CLASSES, check_gradient, classifier, tensor

F64 = np.float64


def _conv_model(**kwargs) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return classifier(nodes, "y", (2, 3, 6, 6),
                      initializers=[tensor("w", rng.standard_normal((4, 3, 3, 3)))], **kwargs)


def _run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def test_interface_names_types_and_shapes():
    gradient_model = build_gradient_model(_conv_model(), "x", "logits", False)
    inputs = {value.name: value.type.tensor_type for value in gradient_model.graph.input}
    outputs = [value.name for value in gradient_model.graph.output]
    assert set(inputs) == {"x", "label"}
    assert inputs["label"].elem_type == TensorProto.INT64
    assert outputs == ["loss", "probabilities", "input_grad"]
    onnx.checker.check_model(gradient_model)


@pytest.mark.parametrize("batch", [1, 3])
def test_batch_size_is_not_baked_in(batch):
    gradient_model = build_gradient_model(_conv_model(), "x", "logits", False)
    x = np.random.default_rng(1).standard_normal((batch, 3, 6, 6)).astype(np.float32)
    loss, probabilities, grad = _run(gradient_model, {"x": x, "label": np.zeros(batch,
                                                                                np.int64)})
    assert loss.shape == (batch,) and probabilities.shape == (batch, CLASSES)
    assert grad.shape == x.shape


def test_loss_and_probabilities_match_the_model():
    model = _conv_model()
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 6)).astype(np.float32)
    logits = _run(model, {"x": x})[0].astype(np.float64)
    labels = np.array([2, 0], dtype=np.int64)
    loss, probabilities, _ = _run(build_gradient_model(model, "x", "logits", False),
                                  {"x": x, "label": labels})
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    np.testing.assert_allclose(loss, -np.log(expected[[0, 1], labels]), rtol=1e-5)


def test_the_input_model_is_left_unchanged():
    model = _conv_model()
    before = model.SerializeToString()
    build_gradient_model(model, "x", "logits", False)
    assert model.SerializeToString() == before


def _softmax_model(behind_identity: bool, scale: float = 1.0) -> onnx.ModelProto:
    nodes = [helper.make_node("Tanh", ["x"], ["t"]),
             helper.make_node("Mul", ["t", "scale"], ["y"])]
    model = classifier(nodes, "y", (2, 4), initializers=[tensor("scale", scale, F64)],
                       dtype=F64)
    graph = model.graph
    graph.node.append(helper.make_node("Softmax", ["logits"], ["p"], axis=1, name="softmax"))
    final = "p"
    if behind_identity:
        graph.node.append(helper.make_node("Identity", ["p"], ["p_out"]))
        final = "p_out"
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(final, TensorProto.DOUBLE, ["N", CLASSES]))
    return model


@pytest.mark.parametrize("behind_identity", [False, True])
def test_softmax_output_is_differentiated_through_its_logits(behind_identity):
    model = _softmax_model(behind_identity)
    output = model.graph.output[0].name
    gradient_model = check_gradient(model, np.random.default_rng(3).standard_normal((2, 4)),
                                    output_name=output, output_is_probability=True)
    assert "LogSoftmax" in {node.op_type for node in gradient_model.graph.node}


def test_saturated_softmax_gives_a_finite_loss_and_gradient():
    # Logits of +-800: the label's probability underflows to 0 in float64 too.
    model = _softmax_model(behind_identity=True, scale=800.0)
    gradient_model = build_gradient_model(model, "x", "p_out", True)
    x = np.array([[3.0, -3.0, 3.0, -3.0], [1.0, 2.0, 3.0, 4.0]])
    loss, _, grad = _run(gradient_model, {"x": x, "label": np.array([0, 1])})
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    assert loss.max() > 100.0


def test_probability_output_without_softmax_uses_the_clamped_logarithm():
    # Softmax followed by an exact scaling by one: the head is no longer a Softmax.
    model = _softmax_model(behind_identity=False)
    graph = model.graph
    graph.initializer.append(tensor("one", 1.0, F64))
    graph.node.append(helper.make_node("Mul", ["p", "one"], ["p_scaled"]))
    graph.output[0].name = "p_scaled"
    gradient_model = check_gradient(model, np.random.default_rng(4).standard_normal((2, 4)),
                                    output_name="p_scaled", output_is_probability=True)
    assert "LogSoftmax" not in {node.op_type for node in gradient_model.graph.node}


def test_softmax_output_declared_as_logits_is_refused():
    with pytest.raises(ParameterError, match=r"Softmax node 'softmax'.*output_is_probability"):
        build_gradient_model(_softmax_model(False), "x", "p", False)


def test_operator_without_rule_names_the_node_and_what_to_do():
    nodes = [helper.make_node("Sin", ["x"], ["y"], name="sine0")]
    model = classifier(nodes, "y", (2, 4))
    with pytest.raises(UnsupportedOperatorError,
                       match=r"no gradient rule for operator Sin \(node 'sine0'\).*Re-export"):
        build_gradient_model(model, "x", "logits", False)


def test_operator_off_the_gradient_path_needs_no_rule():
    # Sin only transforms a constant, so no gradient flows through it.
    nodes = [helper.make_node("Sin", ["c"], ["s"], name="sine0"),
             helper.make_node("Mul", ["x", "s"], ["y"])]
    model = classifier(nodes, "y", (2, 4), initializers=[tensor("c", np.ones(4), F64)],
                       dtype=F64)
    check_gradient(model, np.random.default_rng(5).standard_normal((2, 4)))


def test_conv_weight_computed_from_the_input_is_refused():
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["w"]),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv0")]
    model = classifier(nodes, "y", (1, 1, 3, 3),
                       initializers=[tensor("shape", [1, 1, 3, 3], np.int64)])
    with pytest.raises(UnsupportedOperatorError, match=r"Conv node 'conv0'.*weight"):
        build_gradient_model(model, "x", "logits", False)


def test_shape_computations_carry_no_gradient():
    # Flatten written the PaddlePaddle way: Shape -> Slice -> Concat -> Reshape.
    nodes = [helper.make_node("Tanh", ["x"], ["t"]),
             helper.make_node("Shape", ["t"], ["shape"]),
             helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
             helper.make_node("Concat", ["batch", "minus_one"], ["target"], axis=0),
             helper.make_node("Reshape", ["t", "target"], ["y"])]
    initializers = [tensor("zero", [0], np.int64), tensor("one", [1], np.int64),
                    tensor("minus_one", [-1], np.int64)]
    model = classifier(nodes, "y", (2, 3, 2), initializers=initializers, dtype=F64)
    check_gradient(model, np.random.default_rng(6).standard_normal((2, 3, 2)))


def test_reserved_names_inside_the_model_are_renamed():
    nodes = [helper.make_node("Tanh", ["x"], ["loss"]),
             helper.make_node("Mul", ["loss", "label"], ["input_grad"]),
             helper.make_node("Identity", ["input_grad"], ["y"])]
    model = classifier(nodes, "y", (2, 4), initializers=[tensor("label", 2.0, F64)], dtype=F64)
    check_gradient(model, np.random.default_rng(7).standard_normal((2, 4)))


@pytest.mark.parametrize("opset", [10, 22])
def test_opset_outside_the_supported_range_is_refused(opset):
    model = _conv_model()
    model.opset_import[0].version = opset
    with pytest.raises(ModelError, match=rf"opset {opset}.*11 to 21"):
        build_gradient_model(model, "x", "logits", False)


def test_unknown_input_or_output_name_is_refused():
    with pytest.raises(ModelError, match=r"input 'image' is not a graph input"):
        build_gradient_model(_conv_model(), "image", "logits", False)
    with pytest.raises(ModelError, match=r"output 'scores' is not a graph output"):
        build_gradient_model(_conv_model(), "x", "scores", False)


def test_supported_operators_cover_the_required_list():
    required = {"Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu",
                "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh",
                "BatchNormalization", "GlobalAveragePool", "AveragePool", "MaxPool", "Pad",
                "Reshape", "Flatten", "Transpose", "Concat", "Split", "Slice", "Squeeze",
                "Unsqueeze", "ReduceMean", "Softmax", "Identity", "Cast", "Dropout"}
    assert required <= set(supported_operators())


@pytest.mark.parametrize("opset", range(11, 22))
def test_every_supported_opset(opset):
    # Conv, Clip (bounds as inputs from opset 11), MaxPool with its indices, broadcasting and
    # Unsqueeze (axes an attribute before 13, an input from 13) in every supported opset.
    rng = np.random.default_rng(opset)
    unsqueeze = (helper.make_node("Unsqueeze", ["s_flat", "axes"], ["y"]) if opset >= 13
                 else helper.make_node("Unsqueeze", ["s_flat"], ["y"], axes=[2]))
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Clip", ["c", "low", "high"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["m"], kernel_shape=[2, 2]),
             helper.make_node("GlobalAveragePool", ["r"], ["r_mean"]),
             helper.make_node("Mul", ["m", "r_mean"], ["s"]),
             helper.make_node("Flatten", ["s"], ["s_flat"]),
             unsqueeze]
    initializers = [tensor("w", rng.standard_normal((3, 2, 3, 3))), tensor("low", -1.0),
                    tensor("high", 1.5), tensor("axes", [2], np.int64)]
    model = classifier(nodes, "y", (2, 2, 6, 6), initializers=initializers, opset=opset)
    x = rng.standard_normal((2, 2, 6, 6)).astype(np.float32) * 0.3
    check_gradient(model, x, step=1e-3, tolerance=5e-3)
