"""Gradient rules of Conv and ConvTranspose with respect to their data input."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx

from nca_onnx.errors import UnsupportedOperatorError
from nca_onnx.grad.context import GradContext, node_attr
from nca_onnx.grad.registry import register

__all__ = ["kernel_shape_of", "static_pads", "transpose_conv_to_input"]


def kernel_shape_of(ctx: GradContext, node: onnx.NodeProto) -> list[int]:
    """Spatial kernel size of a Conv-like node, from its attribute or its weight's shape."""
    kernel = node_attr(node, "kernel_shape")
    if kernel:
        return list(kernel)
    weight = ctx.const_value(node.input[1])
    shape = weight.shape if weight is not None else ctx.shape(node.input[1])
    if shape is None or any(not isinstance(dim, int) for dim in shape[2:]):
        raise UnsupportedOperatorError(
            f"{node.op_type} node '{node.name}' has no kernel_shape attribute and the shape of "
            f"its weight '{node.input[1]}' is unknown; set kernel_shape or make the weight an "
            "initializer"
        )
    return [int(dim) for dim in shape[2:]]


def _static_spatial(ctx: GradContext, x: str) -> list[int] | None:
    shape = ctx.shape(x)
    if shape is None or not all(isinstance(dim, int) for dim in shape[2:]):
        return None
    return [int(dim) for dim in shape[2:]]


def static_pads(
    node: onnx.NodeProto, spatial: Sequence[int] | None, kernel: Sequence[int],
    strides: Sequence[int], dilations: Sequence[int],
) -> tuple[list[int], list[int]] | None:
    """Begin and end pads of a Conv-like node, or None when they depend on run-time sizes."""
    n = len(kernel)
    auto_pad = node_attr(node, "auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad == "VALID":
        return [0] * n, [0] * n
    if auto_pad == "NOTSET":
        pads = list(node_attr(node, "pads", [0] * (2 * n)))
        return pads[:n], pads[n:]
    if spatial is None and any(s != 1 for s in strides):
        return None
    begins, ends = [], []
    for i, (k, s, d) in enumerate(zip(kernel, strides, dilations)):
        if spatial is None:  # stride 1: SAME pads the kernel extent minus one, whatever the size
            total = (k - 1) * d
        else:
            size = spatial[i]
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)
        ends.append(large if auto_pad == "SAME_UPPER" else small)
    return begins, ends


def _same_pad_begins_at_run_time(
    ctx: GradContext, node: onnx.NodeProto, x: str, kernel: Sequence[int],
    strides: Sequence[int], dilations: Sequence[int],
) -> str:
    """Begin pads of SAME_UPPER/SAME_LOWER computed from the run-time input size."""
    n = len(kernel)
    size = ctx.dims_of(x, 2, 2 + n)
    s = ctx.ints(strides)
    extent = ctx.ints([(k - 1) * d + 1 for k, d in zip(kernel, dilations)])
    out = ctx.op("Div", [ctx.op("Add", [size, ctx.ints([st - 1 for st in strides])]), s])
    last = ctx.op("Mul", [ctx.op("Sub", [out, ctx.ints([1] * n)]), s])
    total = ctx.op("Sub", [ctx.op("Add", [last, extent]), size])
    zeros = ctx.ints([0] * n)
    total = ctx.op("Where", [ctx.op("Less", [total, zeros]), zeros, total])
    half = ctx.op("Div", [total, ctx.ints([2] * n)])
    auto_pad = node_attr(node, "auto_pad", b"NOTSET")
    return half if auto_pad in (b"SAME_UPPER", "SAME_UPPER") else ctx.op("Sub", [total, half])


def transpose_conv_to_input(
    ctx: GradContext, node: onnx.NodeProto, g: str, weight: str, x: str,
    kernel: Sequence[int], group: int,
) -> str:
    """Adjoint of a Conv-like window operation: ConvTranspose of `g`, sized exactly like `x`.

    With static spatial sizes the pads and output_padding make ConvTranspose produce the
    input's shape directly; otherwise the full ConvTranspose output is sliced at run time.
    """
    n = len(kernel)
    strides = list(node_attr(node, "strides", [1] * n))
    dilations = list(node_attr(node, "dilations", [1] * n))
    spatial = _static_spatial(ctx, x)
    pads = static_pads(node, spatial, kernel, strides, dilations)
    ceil_mode = bool(node_attr(node, "ceil_mode", 0))

    if spatial is not None and pads is not None and not ceil_mode:
        begins, ends = pads
        extra = [(size + b + e - ((k - 1) * d + 1)) % s for size, b, e, k, d, s
                 in zip(spatial, begins, ends, kernel, dilations, strides)]
        return ctx.op("ConvTranspose", [g, weight], group=group, strides=strides,
                      dilations=dilations, pads=begins + ends, output_padding=extra)

    full = ctx.op("ConvTranspose", [g, weight], group=group, strides=strides,
                  dilations=dilations, pads=[0] * (2 * n), output_padding=[s - 1 for s in strides])
    begins = (ctx.ints(pads[0]) if pads is not None
              else _same_pad_begins_at_run_time(ctx, node, x, kernel, strides, dilations))
    stop = ctx.op("Add", [begins, ctx.dims_of(x, 2, 2 + n)])
    return ctx.slice(full, begins, stop, list(range(2, 2 + n)))


def _flipped_transposed_weight(ctx: GradContext, weight: str, group: int, rank: int) -> str:
    """Weight of the convolution that is the adjoint of a stride-1 convolution: per group,
    input and output channels swapped, and every kernel flipped in all spatial axes."""
    value = ctx.const_value(weight)
    if value is not None:
        out_channels, in_per_group = value.shape[:2]
        kernel = value.shape[2:]
        per_group = value.reshape(group, out_channels // group, in_per_group, *kernel)
        swapped = per_group.swapaxes(1, 2).reshape(group * in_per_group,
                                                   out_channels // group, *kernel)
        flipped = np.flip(swapped, axis=tuple(range(2, rank)))
        return ctx.const(np.ascontiguousarray(flipped), ctx.dtype(weight))
    spatial_axes = list(range(2, rank))
    flipped = ctx.slice(weight, [-1] * len(spatial_axes), [np.iinfo(np.int64).min] *
                        len(spatial_axes), spatial_axes, [-1] * len(spatial_axes))
    if group == 1:
        return ctx.op("Transpose", [flipped], perm=[1, 0, *spatial_axes])
    # [M, C/g, k] -> [g, M/g, C/g, k] -> [g, C/g, M/g, k] -> [C, M/g, k]
    shape = ctx.shape_of(weight)
    split = ctx.op("Concat", [ctx.ints([group, -1]), ctx.dims_of(weight, 1, rank)], axis=0)
    grouped = ctx.op("Reshape", [flipped, split])
    swapped = ctx.op("Transpose", [grouped], perm=[0, 2, 1, *range(3, rank + 1)])
    merged = ctx.op("Concat", [ctx.ints([-1]), ctx.op("Div", [
        ctx.op("Slice", [shape, ctx.ints([0]), ctx.ints([1])]), ctx.ints([group])]),
        ctx.dims_of(weight, 2, rank)], axis=0)
    return ctx.op("Reshape", [swapped, merged])


def _stride_one_adjoint(ctx: GradContext, node: onnx.NodeProto, g: str, kernel: list[int],
                        group: int, pads: tuple[list[int], list[int]] | None) -> str | None:
    """Adjoint of a stride-1 Conv as a Conv (onnxruntime runs Conv much faster than
    ConvTranspose), or None where that form does not apply."""
    n = len(kernel)
    strides = list(node_attr(node, "strides", [1] * n))
    dilations = list(node_attr(node, "dilations", [1] * n))
    if any(s != 1 for s in strides) or pads is None:
        return None
    extents = [(k - 1) * d for k, d in zip(kernel, dilations)]
    begins = [e - p for e, p in zip(extents, pads[0])]
    ends = [e - p for e, p in zip(extents, pads[1])]
    if min(begins + ends) < 0:
        return None
    weight = _flipped_transposed_weight(ctx, node.input[1], group, n + 2)
    return ctx.op("Conv", [g, weight], group=group, kernel_shape=kernel,
                  dilations=dilations, pads=begins + ends)


def _pointwise_adjoint(ctx: GradContext, node: onnx.NodeProto, g: str, kernel: list[int],
                       group: int, pads: tuple[list[int], list[int]] | None) -> str | None:
    """Adjoint of an ungrouped, unpadded stride-1 1x1 Conv as one MatMul over channels, or
    None where that form does not apply. onnxruntime runs it in plain NCHW layout, which
    saves the layout conversions its blocked-layout Conv needs around element-wise ops."""
    n = len(kernel)
    weight = ctx.const_value(node.input[1])
    if (weight is None or group != 1 or any(k != 1 for k in kernel) or pads is None
            or any(pads[0] + pads[1])
            or any(s != 1 for s in node_attr(node, "strides", [1] * n))):
        return None
    transposed = ctx.const(np.ascontiguousarray(weight.reshape(weight.shape[0], -1).T),
                           ctx.dtype(node.input[1]))
    columns = ctx.op("Reshape", [g, ctx.ints([0, weight.shape[0], -1])])
    return ctx.reshape_like(ctx.op("MatMul", [transposed, columns]), node.input[0])


def _refuse_weight_gradient(node: onnx.NodeProto, wanted: Sequence[bool]) -> None:
    if any(wanted[1:]):
        raise UnsupportedOperatorError(
            f"{node.op_type} node '{node.name}' computes its weight or bias from the model "
            "input; only the data input may depend on it: constant-fold the weights"
        )


@register("Conv")
def _conv(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
          wanted: Sequence[bool]) -> list[str | None]:
    _refuse_weight_gradient(node, wanted)
    kernel = kernel_shape_of(ctx, node)
    group = int(node_attr(node, "group", 1))
    n = len(kernel)
    pads = static_pads(node, _static_spatial(ctx, node.input[0]), kernel,
                       list(node_attr(node, "strides", [1] * n)),
                       list(node_attr(node, "dilations", [1] * n)))
    adjoint = _pointwise_adjoint(ctx, node, grads[0], kernel, group, pads)
    if adjoint is None:
        adjoint = _stride_one_adjoint(ctx, node, grads[0], kernel, group, pads)
    if adjoint is not None:
        return [adjoint]
    return [transpose_conv_to_input(ctx, node, grads[0], node.input[1], node.input[0],
                                    kernel, group)]


@register("ConvTranspose")
def _conv_transpose(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
                    wanted: Sequence[bool]) -> list[str | None]:
    _refuse_weight_gradient(node, wanted)
    auto_pad = node_attr(node, "auto_pad", b"NOTSET")
    if auto_pad not in (b"NOTSET", b"VALID", "NOTSET", "VALID") or node_attr(node, "output_shape"):
        raise UnsupportedOperatorError(
            f"ConvTranspose node '{node.name}' sets auto_pad or output_shape, whose padding "
            "convention differs between runtimes; re-export it with explicit pads and "
            "output_padding"
        )
    kernel = kernel_shape_of(ctx, node)
    n = len(kernel)
    pads = [0] * (2 * n) if auto_pad in (b"VALID", "VALID") else list(
        node_attr(node, "pads", [0] * (2 * n)))
    # The adjoint of a transposed convolution is the convolution with the same weights;
    # output_padding only adds rows that no input element reaches.
    return [ctx.op("Conv", [grads[0], node.input[1]], group=int(node_attr(node, "group", 1)),
                   kernel_shape=kernel, strides=list(node_attr(node, "strides", [1] * n)),
                   dilations=list(node_attr(node, "dilations", [1] * n)), pads=pads)]
