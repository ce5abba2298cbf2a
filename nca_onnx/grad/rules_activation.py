"""Gradient rules of element-wise activations and Softmax."""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from nca_onnx.grad.context import GradContext, node_attr
from nca_onnx.grad.registry import register

__all__: list[str] = []


def _mask(ctx: GradContext, condition: str, g: str) -> str:
    """g where condition holds, else 0 (Cast and Mul: onnxruntime's Where is several times
    slower on large tensors)."""
    return ctx.op("Mul", [g, ctx.op("Cast", [condition], to=ctx.dtype(g))])


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
    positive = ctx.op("Cast", [ctx.op("Greater", [x, ctx.scalar_like(0.0, x)])], to=ctx.dtype(x))
    # slope = alpha + (1 - alpha) * [x > 0]
    slope = ctx.op("Add", [ctx.op("Mul", [positive, ctx.scalar_like(1.0 - alpha, x)]),
                           ctx.scalar_like(alpha, x)])
    return [ctx.op("Mul", [g, slope])]


@register("Clip")
def _clip(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
          wanted: Sequence[bool]) -> list[str | None]:
    # The gradient flows where the output lies strictly inside the bounds (optional inputs
    # from opset 11). Reading the output rather than the input keeps Conv+Clip fusable; the
    # two differ only where the input equals a bound exactly.
    y, g = node.output[0], grads[0]
    inside = None
    if len(node.input) > 1 and node.input[1]:
        inside = ctx.op("Greater", [y, node.input[1]])
    if len(node.input) > 2 and node.input[2]:
        below_max = ctx.op("Less", [y, node.input[2]])
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
    # y = x * s(x) with s = clip(x/6 + 1/2, 0, 1), so dy/dx = s(x) + x/6 on (-3, 3): that is
    # x/3 + 1/2 there, 0 below and 1 above.
    x, g = node.input[0], grads[0]
    s = ctx.op("HardSigmoid", [x], alpha=1.0 / 6.0, beta=0.5)
    inside = ctx.op("And", [ctx.op("Greater", [x, ctx.scalar_like(-3.0, x)]),
                            ctx.op("Less", [x, ctx.scalar_like(3.0, x)])])
    ramp = _mask(ctx, inside, ctx.op("Mul", [x, ctx.scalar_like(1.0 / 6.0, x)]))
    return [ctx.op("Mul", [g, ctx.op("Add", [s, ramp])])]


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
