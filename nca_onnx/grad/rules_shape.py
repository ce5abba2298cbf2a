"""Gradient rules of operators that move or select elements without changing them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nca_onnx.errors import UnsupportedOperatorError
from nca_onnx.grad.context import GradContext, node_attr
from nca_onnx.grad.registry import register

__all__: list[str] = []


def _positions(ctx: GradContext, x: str) -> str:
    """int64 tensor shaped like `x` whose elements are their own row-major flat index."""
    size = ctx.op("Size", [x])
    flat = ctx.op("Range", [ctx.const(0, onnx.TensorProto.INT64), size,
                            ctx.const(1, onnx.TensorProto.INT64)])
    return ctx.reshape_like(flat, x)


def _scatter_back(ctx: GradContext, g: str, positions: str, x: str, add: bool) -> str:
    """Adjoint of gathering `x` at `positions`: scatter (or scatter-add) `g` into zeros."""
    zero = numpy_helper.from_array(np.zeros(1, helper.tensor_dtype_to_np_dtype(ctx.dtype(x))))
    zeros = ctx.op("ConstantOfShape", [ctx.op("Reshape", [ctx.op("Size", [x]), ctx.ints([1])])],
                   value=zero)
    flat = ctx.op("ScatterElements", [zeros, ctx.op("Reshape", [positions, ctx.ints([-1])]),
                                      ctx.op("Reshape", [g, ctx.ints([-1])])],
                  axis=0, reduction="add" if add else None)
    return ctx.reshape_like(flat, x)


@register("Reshape", "Flatten", "Squeeze", "Unsqueeze")
def _reshape(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
             wanted: Sequence[bool]) -> list[str | None]:
    return [ctx.reshape_like(grads[0], node.input[0])]


@register("Expand")
def _expand(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
            wanted: Sequence[bool]) -> list[str | None]:
    return [ctx.reduce_to_operand(grads[0], node.input[0], [node.output[0]], node)]


@register("Transpose")
def _transpose(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
               wanted: Sequence[bool]) -> list[str | None]:
    perm = node_attr(node, "perm")
    if not perm:
        perm = list(reversed(range(ctx.rank(node.input[0], node))))
    return [ctx.op("Transpose", [grads[0]], perm=[int(i) for i in np.argsort(perm)])]


def _axis(ctx: GradContext, node: onnx.NodeProto, tensor: str, default: int) -> int:
    axis = int(node_attr(node, "axis", default))
    return axis % ctx.rank(tensor, node) if axis < 0 else axis


@register("Concat")
def _concat(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
            wanted: Sequence[bool]) -> list[str | None]:
    g = grads[0]
    axis = _axis(ctx, node, node.output[0], 0)
    static_sizes = [(ctx.shape(name) or [None] * (axis + 1))[axis] for name in node.input]
    result: list[str | None] = []
    if all(isinstance(size, int) for size in static_sizes):
        start = 0
        for size, want in zip(static_sizes, wanted):
            result.append(ctx.slice(g, [start], [start + size], [axis]) if want else None)
            start += size
        return result
    start = ctx.ints([0])
    for name, want in zip(node.input, wanted):
        stop = ctx.op("Add", [start, ctx.dims_of(name, axis, axis + 1)])
        result.append(ctx.slice(g, start, stop, [axis]) if want else None)
        start = stop
    return result


@register("Split")
def _split(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
           wanted: Sequence[bool]) -> list[str | None]:
    axis = _axis(ctx, node, node.input[0], 0)
    parts = [g if g is not None else ctx.zeros_like(out) for g, out in zip(grads, node.output)]
    return [ctx.op("Concat", parts, axis=axis)]


@register("Slice")
def _slice(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
           wanted: Sequence[bool]) -> list[str | None]:
    # Select the flat positions the forward Slice kept, with the very same arguments, and
    # scatter the gradient there; a Slice never selects one element twice.
    x = node.input[0]
    kept = ctx.op("Slice", [_positions(ctx, x), *node.input[1:]])
    return [_scatter_back(ctx, grads[0], kept, x, add=False)]


@register("Pad")
def _pad(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
         wanted: Sequence[bool]) -> list[str | None]:
    x, g = node.input[0], grads[0]
    mode = node_attr(node, "mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = node.input[1]
    axes = [node.input[3]] if len(node.input) > 3 and node.input[3] else []
    if mode == "constant":
        # Padding by p and cropping by -p are adjoint: crop what was added, zero-fill what
        # was cropped.
        value = ctx.const_value(pads)
        negated = ctx.ints(-value) if value is not None else ctx.op("Neg", [pads])
        inputs = [g, negated, ctx.scalar_like(0.0, g), *axes] if axes else [g, negated]
        return [ctx.op("Pad", inputs)]
    if ctx.opset < 16:
        raise UnsupportedOperatorError(
            f"Pad node '{node.name}' uses mode '{mode}', whose gradient needs a scatter-add "
            f"(opset 16 or later) but the model has opset {ctx.opset}; convert the model with "
            "onnx.version_converter to opset 16 or later"
        )
    sources = ctx.op("Pad", [_positions(ctx, x), pads, *(["", *axes] if axes else [])],
                     mode=mode)
    return [_scatter_back(ctx, g, sources, x, add=True)]


def _reduced_axes(ctx: GradContext, node: onnx.NodeProto, inputs_from: int) -> list[int] | None:
    """Static axes of a Reduce* node (None: all axes), attribute or input by opset."""
    if ctx.opset < inputs_from:
        axes = node_attr(node, "axes")
        return None if not axes else list(axes)
    if len(node.input) < 2 or not node.input[1]:
        return None
    return [int(a) for a in ctx.require_const(node.input[1], node, "axes").reshape(-1)]


def _spread_reduction(ctx: GradContext, node: onnx.NodeProto, g: str,
                      inputs_from: int) -> tuple[str, list[int]] | None:
    """Broadcast a Reduce* gradient back to the input; None when the node reduces nothing."""
    x = node.input[0]
    rank = ctx.rank(x, node)
    axes = _reduced_axes(ctx, node, inputs_from)
    if axes is None and node_attr(node, "noop_with_empty_axes", 0):
        return None
    axes = list(range(rank)) if not axes else sorted(a % rank for a in axes)
    if not node_attr(node, "keepdims", 1):
        g = ctx.unsqueeze(g, axes)
    return ctx.op("Expand", [g, ctx.shape_of(x)]), axes


@register("ReduceSum")
def _reduce_sum(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
                wanted: Sequence[bool]) -> list[str | None]:
    spread = _spread_reduction(ctx, node, grads[0], inputs_from=13)
    return [grads[0] if spread is None else spread[0]]


@register("ReduceMean")
def _reduce_mean(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
                 wanted: Sequence[bool]) -> list[str | None]:
    spread = _spread_reduction(ctx, node, grads[0], inputs_from=18)
    if spread is None:
        return [grads[0]]
    expanded, axes = spread
    x = node.input[0]
    shape = ctx.shape(x)
    if shape is not None and all(isinstance(shape[a], int) for a in axes):
        inverse = ctx.scalar_like(1.0 / float(np.prod([shape[a] for a in axes])), x)
    else:
        count = ctx.op("Div", [ctx.op("Size", [x]), ctx.op("Size", [node.output[0]])])
        inverse = ctx.op("Reciprocal", [ctx.op("Cast", [count], to=ctx.dtype(x))])
    return [ctx.op("Mul", [expanded, inverse])]
