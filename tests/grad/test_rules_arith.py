"""Broadcasting arithmetic and pass-through gradients against finite differences."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from .gradcheck import check_gradient, classifier, tensor

F64 = np.float64
BINARY = ["Add", "Sub", "Mul", "Div"]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("x_shape,c_shape,x_first", [
    ((2, 3, 4), (4,), True),
    ((2, 3, 4), (3, 1), False),
    ((2, 3, 4), (), True),
    ((2, 1, 4), (1, 3, 4), False),
    ((2, 3, 1, 4), (3, 5, 1), True),
])
def test_binary_op_with_constant_broadcast_operand(op, x_shape, c_shape, x_first):
    rng = np.random.default_rng(0)
    constant = rng.uniform(0.5, 1.5, c_shape)  # positive: a safe divisor
    inputs = ["x", "c"] if x_first else ["c", "x"]
    nodes = [helper.make_node(op, inputs, ["y"])]
    x = rng.uniform(0.5, 1.5, x_shape)
    model = classifier(nodes, "y", x_shape, initializers=[tensor("c", constant, F64)], dtype=F64)
    check_gradient(model, x)


def _mean_over(axes: list[int], source: str, output: str, opset: int) -> onnx.NodeProto:
    if opset >= 18:
        return helper.make_node("ReduceMean", [source, f"{output}_axes"], [output], keepdims=1)
    return helper.make_node("ReduceMean", [source], [output], axes=axes, keepdims=1)


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("opset", [11, 18])
def test_binary_op_with_both_operands_from_the_input(op, opset):
    # b = 1 + mean(x^2) over axes 1 and 3 (shape [N, 1, h, 1]), then op(x, b) and op(b, x).
    nodes = [helper.make_node("Mul", ["x", "x"], ["sq"]),
             _mean_over([1, 3], "sq", "m", opset),
             helper.make_node("Add", ["m", "one"], ["b"]),
             helper.make_node(op, ["x", "b"], ["y1"]),
             helper.make_node(op, ["b", "x"], ["y2"]),
             helper.make_node("Concat", ["y1", "y2"], ["y"], axis=1)]
    initializers = [tensor("one", 1.0, F64)]
    if opset >= 18:
        initializers.append(tensor("m_axes", [1, 3], np.int64))
    dims = ["N", "c", "h", "w"]  # symbolic dimensions: some broadcasts are decided at run time
    model = classifier(nodes, "y", (2, 3, 4, 2), initializers=initializers, dtype=F64,
                       opset=opset, input_dims=dims)
    check_gradient(model, np.random.default_rng(1).uniform(0.5, 1.5, (2, 3, 4, 2)))


@pytest.mark.parametrize("opset", [11, 17])
def test_broadcast_decided_at_run_time(opset):
    # Reshaping by a computed shape hides all dimensions from shape inference.
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], axes=[2], keepdims=1)
             if opset < 13 else helper.make_node("ReduceSum", ["x", "ax"], ["s"], keepdims=1),
             helper.make_node("Shape", ["s"], ["s_shape"]),
             helper.make_node("Reshape", ["s", "s_shape"], ["hidden"]),
             helper.make_node("Mul", ["x", "hidden"], ["y"])]
    initializers = [tensor("ax", [2], np.int64)] if opset >= 13 else []
    model = classifier(nodes, "y", (2, 3, 4), initializers=initializers, dtype=F64, opset=opset)
    check_gradient(model, np.random.default_rng(2).standard_normal((2, 3, 4)))


def test_sum_neg_identity():
    nodes = [helper.make_node("Tanh", ["x"], ["t"]),
             helper.make_node("Neg", ["t"], ["n"]),
             helper.make_node("Identity", ["n"], ["i"]),
             helper.make_node("Sum", ["x", "i", "c", "x"], ["y"])]
    model = classifier(nodes, "y", (2, 5), initializers=[tensor("c", np.ones(5), F64)],
                       dtype=F64)
    check_gradient(model, np.random.default_rng(3).standard_normal((2, 5)))


def test_cast_between_float_types():
    nodes = [helper.make_node("Cast", ["x"], ["d"], to=onnx.TensorProto.DOUBLE),
             helper.make_node("Tanh", ["d"], ["t"]),
             helper.make_node("Cast", ["t"], ["y"], to=onnx.TensorProto.FLOAT)]
    model = classifier(nodes, "y", (2, 6))
    check_gradient(model, np.random.default_rng(4).standard_normal((2, 6)).astype(np.float32))


@pytest.mark.parametrize("opset", [11, 17])
def test_dropout_in_inference_mode_passes_gradient(opset):
    if opset >= 12:
        node = helper.make_node("Dropout", ["x", "ratio", "training"], ["y", "mask"])
        initializers = [tensor("ratio", 0.5, F64), tensor("training", False, np.bool_)]
    else:
        node = helper.make_node("Dropout", ["x"], ["y"], ratio=0.5)
        initializers = []
    model = classifier([node], "y", (2, 4), initializers=initializers, dtype=F64, opset=opset)
    check_gradient(model, np.random.default_rng(5).standard_normal((2, 4)))
