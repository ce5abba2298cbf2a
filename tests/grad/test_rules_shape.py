"""Gradients of operators that move or select elements, against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from nca_onnx.errors import UnsupportedOperatorError

from .gradcheck import check_gradient, classifier, tensor

F64 = np.float64
I64 = np.int64
SHAPE = (2, 3, 4, 5)


def _x(shape=SHAPE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _check(nodes, initializers=(), *, opset: int = 17, shape=SHAPE, dims=None):
    model = classifier(nodes, "y", shape, initializers=list(initializers), dtype=F64,
                       opset=opset, input_dims=dims)
    check_gradient(model, _x(shape))


@pytest.mark.parametrize("pads", [[0, 1, 2, 0, 0, 2, 1, 3], [0, 0, -1, 2, 0, 1, 1, -2]])
def test_constant_pad_with_positive_and_negative_pads(pads):
    _check([helper.make_node("Pad", ["x", "pads", "value"], ["y"])],
           [tensor("pads", pads, I64), tensor("value", 0.5, F64)])


def test_constant_pad_on_selected_axes_opset18():
    _check([helper.make_node("Pad", ["x", "pads", "", "axes"], ["y"])],
           [tensor("pads", [1, 2, 0, 1], I64), tensor("axes", [1, -1], I64)], opset=18)


@pytest.mark.parametrize("mode", ["reflect", "edge"])
def test_reflect_and_edge_pad_opset18(mode):
    _check([helper.make_node("Pad", ["x", "pads"], ["y"], mode=mode)],
           [tensor("pads", [0, 0, 2, 1, 0, 0, 1, 3], I64)], opset=18)


def test_reflect_pad_before_opset16_is_refused_with_advice():
    model = classifier([helper.make_node("Pad", ["x", "pads"], ["y"], mode="reflect",
                                         name="pad0")], "y", SHAPE,
                       initializers=[tensor("pads", [0, 0, 1, 1, 0, 0, 1, 1], I64)], dtype=F64,
                       opset=13)
    with pytest.raises(UnsupportedOperatorError, match=r"Pad node 'pad0'.*opset 16"):
        check_gradient(model, _x())


@pytest.mark.parametrize("opset", [11, 13])
def test_reshape_flatten_squeeze_unsqueeze(opset):
    if opset >= 13:
        squeeze = helper.make_node("Squeeze", ["u", "axes"], ["s"])
        unsqueeze = helper.make_node("Unsqueeze", ["r", "axes"], ["u"])
    else:
        squeeze = helper.make_node("Squeeze", ["u"], ["s"], axes=[1])
        unsqueeze = helper.make_node("Unsqueeze", ["r"], ["u"], axes=[1])
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]), unsqueeze, squeeze,
             helper.make_node("Flatten", ["s"], ["f"], axis=1),
             helper.make_node("Tanh", ["f"], ["y"])]
    _check(nodes, [tensor("shape", [0, 6, -1], I64), tensor("axes", [1], I64)], opset=opset)


@pytest.mark.parametrize("perm", [[0, 2, 3, 1], [3, 0, 2, 1], None])
def test_transpose(perm):
    # Transpose, then transpose back so that the batch axis comes first again.
    attributes = {"perm": perm} if perm else {}
    back = {"perm": [int(i) for i in np.argsort(perm)]} if perm else {}
    nodes = [helper.make_node("Transpose", ["x"], ["t"], **attributes),
             helper.make_node("Tanh", ["t"], ["u"]),
             helper.make_node("Transpose", ["u"], ["y"], **back)]
    _check(nodes, dims=list(SHAPE))


@pytest.mark.parametrize("dynamic", [False, True])
def test_concat_with_a_constant_and_the_input_twice(dynamic):
    nodes = [helper.make_node("Tanh", ["x"], ["t"]),
             helper.make_node("Concat", ["x", "c", "t"], ["y"], axis=-2)]
    dims = ["N", "c", "h", "w"] if dynamic else None
    _check(nodes, [tensor("c", np.ones((2, 3, 2, 5)), F64)], dims=dims)


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_split_with_an_unused_output(opset):
    if opset >= 18:
        split = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=3, num_outputs=3)
    elif opset >= 13:
        split = helper.make_node("Split", ["x", "sizes"], ["a", "b", "c"], axis=3)
    else:
        split = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=3, split=[1, 2, 2])
    nodes = [split, helper.make_node("Tanh", ["c"], ["tc"]),
             helper.make_node("Concat", ["tc", "a"], ["y"], axis=3)]
    _check(nodes, [tensor("sizes", [1, 2, 2], I64)] if 13 <= opset < 18 else [], opset=opset)


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ([1, 0], [3, 4], [2, 3], [1, 2]),
    ([-1], [-100], [3], [-2]),
    ([1], [1000], [1], [1]),
])
def test_slice(starts, ends, axes, steps):
    nodes = [helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])]
    _check(nodes, [tensor("starts", starts, I64), tensor("ends", ends, I64),
                   tensor("axes", axes, I64), tensor("steps", steps, I64)])


@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("axes,keepdims", [([1, 3], 1), ([2], 0), ([-1], 0), (None, 1)])
@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum"])
def test_reductions(op, opset, axes, keepdims):
    inputs, initializers, attributes = ["x"], [], {"keepdims": keepdims}
    axes_as_input = opset >= 18 or (op == "ReduceSum" and opset >= 13)
    if axes is not None and axes_as_input:
        inputs.append("axes")
        initializers.append(tensor("axes", axes, I64))
    elif axes is not None:
        attributes["axes"] = axes
    nodes = [helper.make_node(op, inputs, ["r"], **attributes),
             helper.make_node("Tanh", ["r"], ["t"])]
    if keepdims:
        nodes.append(helper.make_node("Mul", ["x", "t"], ["y"]))
    else:
        nodes += [helper.make_node("Flatten", ["x"], ["fx"], axis=1),
                  helper.make_node("Flatten", ["t"], ["ft"], axis=1),
                  helper.make_node("Concat", ["fx", "ft"], ["y"], axis=1)]
    _check(nodes, initializers, opset=opset)


def test_expand():
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[1], keepdims=1),
             helper.make_node("Expand", ["m", "shape"], ["e"]),
             helper.make_node("Mul", ["e", "x"], ["y"])]
    _check(nodes, [tensor("shape", [1, 3, 1, 1], I64)], opset=13)
