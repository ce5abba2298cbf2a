"""Conv and ConvTranspose gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from .gradcheck import check_gradient, classifier, tensor

CASES = {
    # name: (input shape, weight shape, attributes)
    "plain_3x3": ((2, 3, 7, 7), (4, 3, 3, 3), {"pads": [1, 1, 1, 1]}),
    "stride2_odd_size": ((2, 3, 7, 7), (4, 3, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "stride2_even_asymmetric_pads": ((1, 2, 8, 6), (3, 2, 3, 3),
                                     {"strides": [2, 2], "pads": [0, 1, 2, 0]}),
    "stride3_no_pads": ((1, 2, 8, 9), (2, 2, 2, 2), {"strides": [3, 3]}),
    "dilation2": ((1, 2, 8, 8), (3, 2, 3, 3), {"dilations": [2, 2], "pads": [2, 1, 2, 1]}),
    "dilation_and_stride": ((1, 2, 9, 9), (2, 2, 3, 3),
                            {"dilations": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "grouped": ((2, 4, 6, 6), (6, 2, 3, 3), {"group": 2, "pads": [1, 1, 1, 1]}),
    "depthwise_stride2": ((2, 4, 7, 7), (4, 1, 3, 3),
                          {"group": 4, "strides": [2, 2], "pads": [1, 1, 1, 1]}),
    "depthwise_multiplier": ((1, 3, 6, 6), (6, 1, 3, 3), {"group": 3, "pads": [1, 1, 1, 1]}),
    "pointwise": ((2, 4, 5, 5), (3, 4, 1, 1), {}),
    "non_square_kernel": ((1, 2, 7, 6), (3, 2, 3, 1), {"pads": [1, 0, 1, 0]}),
    "pads_beyond_kernel": ((1, 2, 5, 5), (2, 2, 2, 2), {"pads": [2, 2, 2, 2]}),
    "same_upper_stride2": ((1, 2, 7, 8), (3, 2, 3, 3),
                           {"auto_pad": "SAME_UPPER", "strides": [2, 2]}),
    "same_lower_stride2": ((1, 2, 8, 7), (3, 2, 4, 4),
                           {"auto_pad": "SAME_LOWER", "strides": [2, 2]}),
    "same_upper_stride1": ((1, 2, 6, 6), (3, 2, 4, 4), {"auto_pad": "SAME_UPPER"}),
    "valid_stride2": ((1, 2, 8, 8), (3, 2, 3, 3), {"auto_pad": "VALID", "strides": [2, 2]}),
    "conv1d": ((2, 3, 11), (4, 3, 3), {"strides": [2], "pads": [1, 0]}),
}


def _conv_model(x_shape, w_shape, attributes, *, dynamic: bool, bias: bool = True,
                weight_as_constant_node: bool = False):
    rng = np.random.default_rng(1)
    weight = tensor("w", rng.standard_normal(w_shape) * 0.5)
    inputs = ["x", "w"]
    initializers = [tensor("b", rng.standard_normal(w_shape[0]))] if bias else []
    nodes = []
    if weight_as_constant_node:
        nodes.append(helper.make_node("Constant", [], ["w"], value=weight))
    else:
        initializers.append(weight)
    if bias:
        inputs.append("b")
    nodes.append(helper.make_node("Conv", inputs, ["y"], name="conv", **attributes))
    dims = None
    if dynamic:
        dims = ["N", x_shape[1], *[f"s{i}" for i in range(len(x_shape) - 2)]]
    return classifier(nodes, "y", x_shape, initializers=initializers, input_dims=dims)


@pytest.mark.parametrize("case", sorted(CASES))
def test_conv_gradient_matches_finite_differences(case):
    x_shape, w_shape, attributes = CASES[case]
    x = np.random.default_rng(2).standard_normal(x_shape).astype(np.float32)
    check_gradient(_conv_model(x_shape, w_shape, attributes, dynamic=False), x)


@pytest.mark.parametrize("case", ["stride2_odd_size", "stride2_even_asymmetric_pads",
                                  "dilation_and_stride", "same_upper_stride2",
                                  "same_lower_stride2", "same_upper_stride1", "plain_3x3"])
def test_conv_gradient_with_run_time_spatial_sizes(case):
    x_shape, w_shape, attributes = CASES[case]
    x = np.random.default_rng(3).standard_normal(x_shape).astype(np.float32)
    check_gradient(_conv_model(x_shape, w_shape, attributes, dynamic=True), x)


def test_conv_weight_in_constant_node_and_no_bias():
    x_shape, w_shape, attributes = CASES["grouped"]
    x = np.random.default_rng(4).standard_normal(x_shape).astype(np.float32)
    model = _conv_model(x_shape, w_shape, attributes, dynamic=False, bias=False,
                        weight_as_constant_node=True)
    check_gradient(model, x)


@pytest.mark.parametrize("group", [1, 2])
def test_conv_with_computed_weight_uses_run_time_weight_transform(group):
    # The weight passes through an Identity node, so its value is not known at build time.
    rng = np.random.default_rng(5)
    nodes = [helper.make_node("Identity", ["w0"], ["w"]),
             helper.make_node("Conv", ["x", "w"], ["y"], group=group, pads=[1, 1, 1, 1])]
    model = classifier(nodes, "y", (1, 4, 5, 5),
                       initializers=[tensor("w0", rng.standard_normal((6, 4 // group, 3, 3)))])
    check_gradient(model, rng.standard_normal((1, 4, 5, 5)).astype(np.float32))


@pytest.mark.parametrize("attributes", [
    {"strides": [2, 2]},
    {"strides": [2, 2], "output_padding": [1, 1], "pads": [1, 1, 1, 1]},
    {"strides": [3, 2], "pads": [0, 1, 1, 0], "output_padding": [2, 1]},
    {"dilations": [2, 2], "pads": [1, 1, 1, 1]},
    {"group": 2, "strides": [2, 2], "pads": [1, 1, 1, 1]},
])
def test_conv_transpose_gradient_matches_finite_differences(attributes):
    rng = np.random.default_rng(6)
    group = attributes.get("group", 1)
    w = tensor("w", rng.standard_normal((4, 6 // group, 3, 3)) * 0.5)
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], **attributes)]
    model = classifier(nodes, "y", (2, 4, 4, 3), initializers=[w])
    check_gradient(model, rng.standard_normal((2, 4, 4, 3)).astype(np.float32))
