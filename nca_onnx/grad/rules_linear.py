"""Gradient rules of Gemm and MatMul."""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from nca_onnx.grad.context import Dim, GradContext, node_attr
from nca_onnx.grad.registry import register

__all__: list[str] = []


def _swap_last_two(ctx: GradContext, x: str, rank: int) -> str:
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    return ctx.op("Transpose", [x], perm=perm)


def _batch_peer(ctx: GradContext, other: str) -> list[tuple[Dim, ...] | None]:
    """Shape against which an operand's batch axes broadcast: the other operand's batch
    axes, with the two matrix axes marked as never broadcast."""
    shape = ctx.shape(other)
    return [None] if shape is None else [(*shape[:-2], 1, 1)]


@register("MatMul")
def _matmul(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
            wanted: Sequence[bool]) -> list[str | None]:
    a, b = node.input[0], node.input[1]
    g = grads[0]
    rank_a, rank_b = ctx.rank(a, node), ctx.rank(b, node)
    ga = gb = None
    if rank_a == 1 and rank_b == 1:
        ga = ctx.op("Mul", [g, b]) if wanted[0] else None
        gb = ctx.op("Mul", [g, a]) if wanted[1] else None
        return [ga, gb]
    if rank_a == 1:
        # A is a row vector [1, K] whose leading 1 the output drops.
        row_g = ctx.unsqueeze(g, [rank_b - 2])
        if wanted[0]:
            full = ctx.op("MatMul", [row_g, _swap_last_two(ctx, b, rank_b)])
            if rank_b > 2:
                full = ctx.reduce_sum(full, list(range(rank_b - 2)), keepdims=False)
            ga = ctx.reshape_like(full, a)
        if wanted[1]:
            gb = ctx.op("MatMul", [ctx.unsqueeze(a, [1]), row_g])
        return [ga, gb]
    if rank_b == 1:
        # B is a column vector [K, 1] whose trailing 1 the output drops.
        col_g = ctx.unsqueeze(g, [rank_a - 1])
        if wanted[0]:
            ga = ctx.op("Mul", [col_g, b])
        if wanted[1]:
            full = ctx.op("MatMul", [_swap_last_two(ctx, a, rank_a), col_g])
            if rank_a > 2:
                full = ctx.reduce_sum(full, list(range(rank_a - 2)), keepdims=False)
            gb = ctx.reshape_like(full, b)
        return [ga, gb]
    if wanted[0]:
        full = ctx.op("MatMul", [g, _swap_last_two(ctx, b, rank_b)])
        ga = ctx.reduce_to_operand(full, a, [b], node, peer_shapes=_batch_peer(ctx, b))
    if wanted[1]:
        full = ctx.op("MatMul", [_swap_last_two(ctx, a, rank_a), g])
        gb = ctx.reduce_to_operand(full, b, [a], node, peer_shapes=_batch_peer(ctx, a))
    return [ga, gb]


@register("Gemm")
def _gemm(ctx: GradContext, node: onnx.NodeProto, grads: Sequence[str | None],
          wanted: Sequence[bool]) -> list[str | None]:
    # Y = alpha * A' B' + beta * C with A' = A or A^T and B' = B or B^T.
    a, b = node.input[0], node.input[1]
    g = grads[0]
    alpha = float(node_attr(node, "alpha", 1.0))
    beta = float(node_attr(node, "beta", 1.0))
    trans_a = int(node_attr(node, "transA", 0))
    trans_b = int(node_attr(node, "transB", 0))
    ga = gb = gc = None
    if wanted[0]:
        if trans_a:
            ga = ctx.op("Gemm", [b, g], alpha=alpha, transA=trans_b, transB=1)
        else:
            ga = ctx.op("Gemm", [g, b], alpha=alpha, transA=0, transB=1 - trans_b)
    if wanted[1]:
        if trans_b:
            gb = ctx.op("Gemm", [g, a], alpha=alpha, transA=1, transB=trans_a)
        else:
            gb = ctx.op("Gemm", [a, g], alpha=alpha, transA=1 - trans_a, transB=0)
    if len(wanted) > 2 and wanted[2]:
        scaled = g if beta == 1.0 else ctx.op("Mul", [g, ctx.scalar_like(beta, g)])
        gc = ctx.reduce_to_operand(scaled, node.input[2], [node.output[0]], node)
    return [ga, gb, gc]
