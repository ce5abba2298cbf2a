"""Gradient rules of pooling and inference-mode batch normalisation."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nca_onnx.errors import UnsupportedOperatorError
from nca_onnx.grad.context import GradContext, node_attr
from nca_onnx.grad.registry import register
from nca_onnx.grad.rules_conv import static_pads, transpose_conv_to_input

__all__: list[str] = []

_INT64_MAX = np.iinfo(np.int64).max


def _max_pool_indices(ctx: GradContext, node: onnx.NodeProto) -> str:
    """Row-major flat argmax indices of a MaxPool, taken from the forward node itself."""
    storage_order = int(node_attr(node, "storage_order", 0))
    if len(node.output) > 1 and node.output[1]:
        if storage_order == 0:
            return node.output[1]
        # The model uses column-major indices elsewhere: compute row-major ones apart.
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute
                 if a.name != "storage_order"}
        return ctx.op_multi("MaxPool", [node.input[0]], 2, **attrs)[1]
    # Nobody reads the indices yet, so the forward node can simply produce them.
    indices = ctx.fresh("maxpool_indices")
    del node.output[1:]
    node.output.append(indices)
    kept = [a for a in node.attribute if a.name != "storage_order"]
    del node.attribute[:]
    node.attribute.extend(kept)
    return indices


@register("MaxPool")
def _max_pool(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
              wanted: Sequence[bool]) -> list[str | None]:
    x, g = node.input[0], grads[0]
    indices = _max_pool_indices(ctx, node)
    kernel = list(node_attr(node, "kernel_shape"))
    n = len(kernel)
    strides = list(node_attr(node, "strides", [1] * n))
    dilations = list(node_attr(node, "dilations", [1] * n))
    extents = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    zeros = ctx.op("ConstantOfShape", [ctx.op("Reshape", [ctx.op("Size", [x]), ctx.ints([1])])],
                   value=numpy_helper.from_array(
                       np.zeros(1, helper.tensor_dtype_to_np_dtype(ctx.dtype(x)))))

    def scatter(part_g: str, part_i: str, reduction: str | None) -> str:
        flat_g = ctx.op("Reshape", [part_g, ctx.ints([-1])])
        flat_i = ctx.op("Reshape", [part_i, ctx.ints([-1])])
        return ctx.op("ScatterElements", [zeros, flat_i, flat_g], axis=0, reduction=reduction)

    overlapping = any(s < e for s, e in zip(strides, extents))
    if not overlapping:
        flat = scatter(g, indices, None)
    elif ctx.opset >= 16:
        flat = scatter(g, indices, "add")
    else:
        # No scatter-add before opset 16: split the output positions into residue classes
        # whose windows are disjoint, scatter each class alone and sum the results.
        periods = [-(-e // s) for s, e in zip(strides, extents)]
        axes = list(range(2, 2 + n))
        parts = []
        for offsets in itertools.product(*(range(p) for p in periods)):
            ends = [_INT64_MAX] * n
            part_g = ctx.slice(g, list(offsets), ends, axes, periods)
            part_i = ctx.slice(indices, list(offsets), ends, axes, periods)
            parts.append(scatter(part_g, part_i, None))
        flat = ctx.op("Sum", parts)
    return [ctx.reshape_like(flat, x)]


def _window_counts(ctx: GradContext, node: onnx.NodeProto, x: str, kernel: list[int],
                   pads: tuple[list[int], list[int]]) -> str:
    """Divisor of every AveragePool window, shape [1, 1, *out], computed at run time."""
    n = len(kernel)
    strides = list(node_attr(node, "strides", [1] * n))
    dilations = list(node_attr(node, "dilations", [1] * n))
    dtype = ctx.dtype(x)
    one = numpy_helper.from_array(np.ones(1, helper.tensor_dtype_to_np_dtype(dtype)))
    plane = ctx.op("Concat", [ctx.ints([1, 1]), ctx.dims_of(x, 2, 2 + n)], axis=0)
    ones = ctx.op("ConstantOfShape", [plane], value=one)
    # Padding counts as part of the window only with count_include_pad; the zeros added
    # past it for ceil_mode never do.
    fill = 1.0 if node_attr(node, "count_include_pad", 0) else 0.0
    begins, ends = pads
    padded = ctx.op("Pad", [ones, ctx.ints([0, 0, *begins, 0, 0, *ends]),
                            ctx.const(fill, dtype)])
    if node_attr(node, "ceil_mode", 0):
        out = ctx.dims_of(node.output[0], 2, 2 + n)
        extents = ctx.ints([(k - 1) * d + 1 for k, d in zip(kernel, dilations)])
        needed = ctx.op("Add", [ctx.op("Mul", [ctx.op("Sub", [out, ctx.ints([1] * n)]),
                                               ctx.ints(strides)]), extents])
        missing = ctx.op("Sub", [needed, ctx.dims_of(padded, 2, 2 + n)])
        zeros = ctx.ints([0] * n)
        missing = ctx.op("Where", [ctx.op("Less", [missing, zeros]), zeros, missing])
        tail = ctx.op("Concat", [ctx.ints([0] * (n + 2)), ctx.ints([0, 0]), missing], axis=0)
        padded = ctx.op("Pad", [padded, tail])
    window = ctx.const(np.ones([1, 1, *kernel]), dtype)
    return ctx.op("Conv", [padded, window], strides=strides, dilations=dilations)


@register("AveragePool")
def _average_pool(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
                  wanted: Sequence[bool]) -> list[str | None]:
    x, y, g = node.input[0], node.output[0], grads[0]
    kernel = list(node_attr(node, "kernel_shape"))
    n = len(kernel)
    shape = ctx.shape(x)
    spatial = None
    if shape is not None and all(isinstance(dim, int) for dim in shape[2:]):
        spatial = [int(dim) for dim in shape[2:]]
    pads = static_pads(node, spatial, kernel, list(node_attr(node, "strides", [1] * n)),
                        list(node_attr(node, "dilations", [1] * n)))
    if pads is None:
        raise UnsupportedOperatorError(
            f"AveragePool node '{node.name}' uses auto_pad with run-time spatial sizes; give "
            "the model input a static height and width or re-export with explicit pads"
        )
    scaled = ctx.op("Div", [g, _window_counts(ctx, node, x, kernel, pads)])
    # Every channel pools alike: fold channels into the batch and use one 1x1-channel kernel.
    folded = ctx.op("Reshape", [scaled, ctx.op(
        "Concat", [ctx.ints([-1, 1]), ctx.dims_of(y, 2, 2 + n)], axis=0)])
    window = ctx.const(np.ones([1, 1, *kernel]), ctx.dtype(x))
    spread = transpose_conv_to_input(ctx, node, folded, window, x, kernel, group=1)
    return [ctx.reshape_like(spread, x)]


@register("GlobalAveragePool")
def _global_average_pool(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
                         wanted: Sequence[bool]) -> list[str | None]:
    x, g = node.input[0], grads[0]
    shape = ctx.shape(x)
    if shape is not None and all(isinstance(dim, int) for dim in shape[2:]):
        inverse = ctx.scalar_like(1.0 / float(np.prod(shape[2:])), x)
    else:
        count = ctx.op("Div", [ctx.op("Size", [x]), ctx.op("Size", [node.output[0]])])
        inverse = ctx.op("Reciprocal", [ctx.op("Cast", [count], to=ctx.dtype(x))])
    return [ctx.op("Mul", [ctx.op("Expand", [g, ctx.shape_of(x)]), inverse])]


@register("BatchNormalization")
def _batch_normalization(ctx: GradContext, node: onnx.NodeProto,
                         grads: Sequence[str | None],
                         wanted: Sequence[bool]) -> list[str | None]:
    if node_attr(node, "training_mode", 0) or len([o for o in node.output if o]) > 1 or any(
            wanted[1:]):
        raise UnsupportedOperatorError(
            f"BatchNormalization node '{node.name}' runs in training mode or computes its "
            "statistics from the input; only inference-mode batch normalisation with constant "
            "parameters is supported: export the model in eval mode"
        )
    x, scale, var = node.input[0], node.input[1], node.input[4]
    epsilon = float(node_attr(node, "epsilon", 1e-5))
    broadcast = [-1] + [1] * (ctx.rank(x, node) - 2)
    scale_value, var_value = ctx.const_value(scale), ctx.const_value(var)
    if scale_value is not None and var_value is not None:
        factor = scale_value.astype(np.float64) / np.sqrt(var_value.astype(np.float64) + epsilon)
        factor_name = ctx.const(factor.reshape(broadcast), ctx.dtype(x))
    else:
        std = ctx.op("Sqrt", [ctx.op("Add", [var, ctx.scalar_like(epsilon, var)])])
        factor_name = ctx.op("Reshape", [ctx.op("Div", [scale, std]), ctx.ints(broadcast)])
    return [ctx.op("Mul", [grads[0], factor_name])]
