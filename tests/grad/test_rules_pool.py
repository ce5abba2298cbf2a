"""Pooling and batch-normalisation gradients against finite differences."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper

from nca_onnx.errors import UnsupportedOperatorError

from .gradcheck import check_gradient, classifier, distinct_values, tensor

MAX_POOL_CASES = {
    "non_overlapping": {"kernel_shape": [2, 2], "strides": [2, 2]},
    "overlapping_padded": {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    "stride1": {"kernel_shape": [3, 2], "pads": [1, 0, 1, 1]},
    "ceil_mode": {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    "dilated": {"kernel_shape": [2, 2], "dilations": [2, 2], "strides": [1, 1]},
    "column_major_storage": {"kernel_shape": [3, 3], "strides": [2, 2], "storage_order": 1},
}


@pytest.mark.parametrize("opset", [12, 17])
@pytest.mark.parametrize("case", sorted(MAX_POOL_CASES))
def test_max_pool_routes_gradient_to_argmax(case, opset):
    # opset 12 has no scatter-add: overlapping windows take the residue-class construction.
    x_shape = (2, 3, 7, 8)
    nodes = [helper.make_node("MaxPool", ["x"], ["y"], **MAX_POOL_CASES[case])]
    model = classifier(nodes, "y", x_shape, opset=opset)
    x = distinct_values(x_shape, np.random.default_rng(0))
    check_gradient(model, x, step=1e-3)


def test_max_pool_with_indices_used_by_the_model():
    # The model reads column-major indices itself: they must stay as they are.
    nodes = [helper.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2],
                              strides=[2, 2], storage_order=1),
             helper.make_node("Cast", ["idx"], ["idx_f"], to=onnx.TensorProto.FLOAT),
             helper.make_node("Mul", ["idx_f", "tiny"], ["idx_s"]),
             helper.make_node("Add", ["y", "idx_s"], ["z"])]
    model = classifier(nodes, "z", (1, 2, 4, 6), initializers=[tensor("tiny", 1e-3)])
    x = distinct_values((1, 2, 4, 6), np.random.default_rng(1))
    check_gradient(model, x, step=1e-3)


AVERAGE_POOL_CASES = {
    "plain": {"kernel_shape": [2, 2], "strides": [2, 2]},
    "padded_excluding_pads": {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    "padded_including_pads": {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 1, 2],
                              "count_include_pad": 1},
    "ceil_mode": {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    "ceil_mode_including_pads": {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                 "ceil_mode": 1, "count_include_pad": 1},
    "stride1_overlap": {"kernel_shape": [2, 3], "pads": [0, 1, 1, 1]},
    "same_upper": {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"},
}


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("case", sorted(AVERAGE_POOL_CASES))
def test_average_pool_gradient_matches_finite_differences(case, dynamic):
    if dynamic and case == "same_upper":
        return  # refused, see test_average_pool_same_padding_needs_static_sizes
    x_shape = (2, 2, 7, 6)
    nodes = [helper.make_node("AveragePool", ["x"], ["y"], **AVERAGE_POOL_CASES[case])]
    dims = ["N", 2, "h", "w"] if dynamic else None
    model = classifier(nodes, "y", x_shape, input_dims=dims)
    x = np.random.default_rng(2).standard_normal(x_shape).astype(np.float32)
    check_gradient(model, x)


def test_average_pool_same_padding_needs_static_sizes():
    nodes = [helper.make_node("AveragePool", ["x"], ["y"], name="pool0",
                              **AVERAGE_POOL_CASES["same_upper"])]
    model = classifier(nodes, "y", (1, 2, 7, 6), input_dims=["N", 2, "h", "w"])
    with pytest.raises(UnsupportedOperatorError, match=r"AveragePool node 'pool0'.*static"):
        check_gradient(model, np.zeros((1, 2, 7, 6), np.float32))


@pytest.mark.parametrize("dynamic", [False, True])
def test_global_average_pool_gradient(dynamic):
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["y"])]
    dims = ["N", 3, "h", "w"] if dynamic else None
    model = classifier(nodes, "y", (2, 3, 5, 4), input_dims=dims)
    check_gradient(model, np.random.default_rng(3).standard_normal((2, 3, 5, 4)).astype(
        np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_normalization_gradient(dtype):
    rng = np.random.default_rng(4)
    channels = 3
    parameters = [tensor("scale", rng.standard_normal(channels), dtype),
                  tensor("bias", rng.standard_normal(channels), dtype),
                  tensor("mean", rng.standard_normal(channels), dtype),
                  tensor("var", rng.uniform(0.5, 2.0, channels), dtype)]
    nodes = [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"],
                              ["y"], epsilon=1e-3)]
    model = classifier(nodes, "y", (2, channels, 4, 3), initializers=parameters, dtype=dtype)
    check_gradient(model, rng.standard_normal((2, channels, 4, 3)).astype(dtype))
