"""Gradient rules of element-wise activations and Softmax."""

from __future__ import annotations

from collections.abc import Sequence

import onnx
from nca_onnx.grad.context import GradContext, node_attr
from nca_onnx.grad.registry import register

__all__: list[str] = []


def _mask(ctx: GradContext, condition: str, g: str) -> str:
    """g where condition holds, else 0."""
    return ctx.op("Where", [condition, g, ctx.scalar_like(0.0, g)])


@register("Relu")
def _relu(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
          wanted: Sequence[bool]) -> list[str | None]:
    # Reading the output, not the input, leaves Conv+Relu fusable in the forward part.
    y = node.output[0]
    return [_mask(ctx, ctx.op("Greater", [y, ctx.scalar_like(0.0, y)]), grads[0])]


@register("LeakyRelu")
def _leaky_relu(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
                wanted: Sequence[bool]) -> list[str | None]:
    x, g = node.input[0], grads[0]
    alpha = float(node_attr(node, "alpha", 0.01))
    positive = ctx.op("Greater", [x, ctx.scalar_like(0.0, x)])
    return [ctx.op("Where", [positive, g, ctx.op("Mul", [g, ctx.scalar_like(alpha, g)])])]


@register("Clip")
def _clip(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
          wanted: Sequence[bool]) -> list[str | None]:
    x, g = node.input[0], grads[0]
    inside = None
    # From opset 11 the bounds are optional inputs; the gradient flows where x is inside
    # them (bounds included, as in the common frameworks).
    if len(node.input) > 1 and node.input[1]:
        inside = ctx.op("Not", [ctx.op("Less", [x, node.input[1]])])
    if len(node.input) > 2 and node.input[2]:
        below_max = ctx.op("Not", [ctx.op("Greater", [x, node.input[2]])])
        inside = below_max if inside is None else ctx.op("And", [inside, below_max])
    return [g if inside is None else _mask(ctx, inside, g)]


@register("Sigmoid")
def _sigmoid(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
             wanted: Sequence[bool]) -> list[str | None]:
    y, g = node.output[0], grads[0]
    slope = ctx.op("Mul", [y, ctx.op("Sub", [ctx.scalar_like(1.0, y), y])])
    return [ctx.op("Mul", [g, slope])]


@register("Tanh")
def _tanh(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
          wanted: Sequence[bool]) -> list[str | None]:
    y, g = node.output[0], grads[0]
    slope = ctx.op("Sub", [ctx.scalar_like(1.0, y), ctx.op("Mul", [y, y])])
    return [ctx.op("Mul", [g, slope])]


@register("HardSigmoid")
def _hard_sigmoid(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
                  wanted: Sequence[bool]) -> list[str | None]:
    y, g = node.output[0], grads[0]
    alpha = float(node_attr(node, "alpha", 0.2))
    inside = ctx.op("And", [ctx.op("Greater", [y, ctx.scalar_like(0.0, y)]),
                            ctx.op("Less", [y, ctx.scalar_like(1.0, y)])])
    return [_mask(ctx, inside, ctx.op("Mul", [g, ctx.scalar_like(alpha, g)]))]


@register("HardSwish")
def _hard_swish(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
                wanted: Sequence[bool]) -> list[str | None]:
    # y = x * clip(x/6 + 1/2, 0, 1); dy/dx = x/3 + 1/2 on (-3, 3), 0 below, 1 above.
    x, g = node.input[0], grads[0]
    ramp = ctx.op("Add", [ctx.op("Mul", [x, ctx.scalar_like(1.0 / 3.0, x)]),
                          ctx.scalar_like(0.5, x)])
    above = ctx.op("Greater", [x, ctx.scalar_like(3.0, x)])
    below = ctx.op("Less", [x, ctx.scalar_like(-3.0, x)])
    slope = ctx.op("Where", [above, ctx.scalar_like(1.0, x), ramp])
    slope = ctx.op("Where", [below, ctx.scalar_like(0.0, x), slope])
    return [ctx.op("Mul", [g, slope])]


@register("Softmax")
def _softmax(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
             wanted: Sequence[bool]) -> list[str | None]:
    y, g = node.output[0], grads[0]
    rank = ctx.rank(y, node)
    axis = int(node_attr(node, "axis", -1 if ctx.opset >= 13 else 1)) % rank
    # Before opset 13 Softmax normalises over all axes from `axis` on (2-D coercion).
    axes = [axis] if ctx.opset >= 13 else list(range(axis, rank))
    dot = ctx.reduce_sum(ctx.op("Mul", [g, y]), axes, keepdims=True)
    return [ctx.op("Mul", [y, ctx.op("Sub", [g, dot])])]
