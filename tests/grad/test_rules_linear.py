"""Gemm and MatMul gradients against finite differences (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from .gradcheck import check_gradient, classifier, tensor

F64 = np.float64


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("bias_shape", [None, (4,), (1, 1), (2, 4)])
def test_gemm_with_constant_weight(trans_a, trans_b, bias_shape):
    rng = np.random.default_rng(0)
    # x is [2, 5]; with transA the model transposes it first so that Gemm sees A = x^T.
    nodes = []
    a_name = "x"
    if trans_a:
        nodes.append(helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0]))
        a_name = "xt"
    weight = rng.standard_normal((4, 5) if trans_b else (5, 4))
    initializers = [tensor("w", weight, F64)]
    inputs = [a_name, "w"]
    if bias_shape is not None:
        initializers.append(tensor("c", rng.standard_normal(bias_shape), F64))
        inputs.append("c")
    nodes.append(helper.make_node("Gemm", inputs, ["y"], transA=trans_a, transB=trans_b,
                                  alpha=0.7, beta=1.3))
    model = classifier(nodes, "y", (2, 5), initializers=initializers, dtype=F64,
                       input_dims=[2, 5])
    check_gradient(model, rng.standard_normal((2, 5)))


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_with_both_operands_and_bias_from_the_input(trans_a, trans_b):
    # A = x (or x^T), B = tanh(x)^T-shaped, C = x: every operand carries a gradient.
    nodes = [helper.make_node("Tanh", ["x"], ["t"])]
    a_name, b_name = "x", "t"
    if trans_a:
        nodes.append(helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0]))
        a_name = "xt"
    if not trans_b:
        nodes.append(helper.make_node("Transpose", ["t"], ["tt"], perm=[1, 0]))
        b_name = "tt"
    nodes.append(helper.make_node("Gemm", [a_name, b_name, "x"], ["y"], transA=trans_a,
                                  transB=trans_b, alpha=0.5, beta=2.0))
    model = classifier(nodes, "y", (3, 3), dtype=F64, input_dims=[3, 3])
    check_gradient(model, np.random.default_rng(1).standard_normal((3, 3)))


@pytest.mark.parametrize("x_shape,w_shape", [
    ((2, 5), (5, 3)),
    ((2, 3, 4), (4, 2)),
    ((2, 3, 4), (1, 4, 2)),
    ((2, 3, 4), (2, 4, 2)),
    ((2, 4), (4,)),
])
def test_matmul_with_constant_right_operand(x_shape, w_shape):
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    model = classifier(nodes, "y", x_shape, initializers=[tensor("w", rng.standard_normal(
        w_shape), F64)], dtype=F64)
    check_gradient(model, rng.standard_normal(x_shape))


@pytest.mark.parametrize("w_shape", [(1, 2, 4), (4,), (2, 5, 4)])
def test_matmul_with_constant_left_operand(w_shape):
    # y = W @ x with x [2, 4, 3]: covers a vector left operand and batch broadcasting.
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("MatMul", ["w", "x"], ["y"])]
    model = classifier(nodes, "y", (2, 4, 3),
                       initializers=[tensor("w", rng.standard_normal(w_shape), F64)], dtype=F64)
    check_gradient(model, rng.standard_normal((2, 4, 3)))


def test_matmul_with_both_operands_from_the_input():
    # y = x @ tanh(x)^T per batch element: [2, 3, 4] @ [2, 4, 3].
    nodes = [helper.make_node("Tanh", ["x"], ["t"]),
             helper.make_node("Transpose", ["t"], ["tt"], perm=[0, 2, 1]),
             helper.make_node("MatMul", ["x", "tt"], ["y"])]
    model = classifier(nodes, "y", (2, 3, 4), dtype=F64)
    check_gradient(model, np.random.default_rng(4).standard_normal((2, 3, 4)))
