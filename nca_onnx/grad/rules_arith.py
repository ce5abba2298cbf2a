"""Gradient rules of broadcasting arithmetic and pass-through operators."""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from nca_onnx.errors import UnsupportedOperatorError
from nca_onnx.grad.context import GradContext
from nca_onnx.grad.registry import register

__all__: list[str] = []


@register("Add")
def _add(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
         wanted: Sequence[bool]) -> list[str | None]:
    (g,) = grads[:1]
    return [ctx.reduce_to_operand(g, name, node.input, node) if want else None
            for name, want in zip(node.input, wanted)]


@register("Sub")
def _sub(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
         wanted: Sequence[bool]) -> list[str | None]:
    g = grads[0]
    a, b = node.input
    ga = ctx.reduce_to_operand(g, a, node.input, node) if wanted[0] else None
    gb = None
    if wanted[1]:
        gb = ctx.op("Neg", [ctx.reduce_to_operand(g, b, node.input, node)])
    return [ga, gb]


@register("Mul")
def _mul(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
         wanted: Sequence[bool]) -> list[str | None]:
    g = grads[0]
    a, b = node.input
    ga = ctx.reduce_to_operand(ctx.op("Mul", [g, b]), a, node.input, node) if wanted[0] else None
    gb = ctx.reduce_to_operand(ctx.op("Mul", [g, a]), b, node.input, node) if wanted[1] else None
    return [ga, gb]


@register("Div")
def _div(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
         wanted: Sequence[bool]) -> list[str | None]:
    g = grads[0]
    a, b = node.input
    g_over_b = ctx.op("Div", [g, b])
    ga = ctx.reduce_to_operand(g_over_b, a, node.input, node) if wanted[0] else None
    gb = None
    if wanted[1]:
        # d(a/b)/db = -(a/b)/b, written with the forward output to save a division
        minus = ctx.op("Neg", [ctx.op("Mul", [g_over_b, node.output[0]])])
        gb = ctx.reduce_to_operand(minus, b, node.input, node)
    return [ga, gb]


@register("Sum")
def _sum(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
         wanted: Sequence[bool]) -> list[str | None]:
    return _add(ctx, node, grads, wanted)


@register("Neg")
def _neg(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
         wanted: Sequence[bool]) -> list[str | None]:
    return [ctx.op("Neg", [grads[0]])]


@register("Identity")
def _identity(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
              wanted: Sequence[bool]) -> list[str | None]:
    return [grads[0]]


@register("Dropout")
def _dropout(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
             wanted: Sequence[bool]) -> list[str | None]:
    training = ctx.const_value(node.input[2]) if len(node.input) > 2 else None
    if len(node.input) > 2 and node.input[2] and (training is None or bool(training)):
        raise UnsupportedOperatorError(
            f"Dropout node '{node.name}' may run in training mode (input '{node.input[2]}'); "
            "the gradient builder supports inference-mode Dropout only: export the model in "
            "eval mode"
        )
    return [grads[0]]


@register("Cast")
def _cast(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
          wanted: Sequence[bool]) -> list[str | None]:
    source = node.input[0]
    if not ctx.is_float(source) or not ctx.is_float(node.output[0]):
        raise UnsupportedOperatorError(
            f"Cast node '{node.name}' converts between a float and a non-float type on the "
            "gradient path; only float-to-float casts carry a gradient: keep the input path in "
            "floating point"
        )
    return [ctx.op("Cast", [grads[0]], to=ctx.dtype(source))]
