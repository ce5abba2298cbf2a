"""The cross-entropy loss of the labelled class and its gradient at the classifier head."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto

from nca_onnx.errors import ModelError, ParameterError
from nca_onnx.grad.context import GradContext, node_attr

__all__ = ["ClassifierHead", "LossTensors", "build_loss", "find_head"]

logger = logging.getLogger(__name__)

#: Lower clamp of a probability before its logarithm, by element type.
_PROBABILITY_FLOOR = {TensorProto.FLOAT16: 1e-4, TensorProto.BFLOAT16: 1e-4}
_DEFAULT_PROBABILITY_FLOOR = 1e-12


@dataclass(frozen=True)
class ClassifierHead:
    """Where the loss attaches: logits (preferred, stable) or probabilities only."""

    logits: str | None
    probabilities: str | None


@dataclass(frozen=True)
class LossTensors:
    """Tensors the loss construction produced."""

    head: str  #: the tensor whose gradient `seed` is
    seed: str  #: d sum(loss) / d head
    loss: str  #: per-sample loss, shape [N]
    probabilities: str  #: class probabilities, shape [N, classes]


def find_head(
    graph: onnx.GraphProto, output_name: str, output_is_probability: bool, opset: int
) -> ClassifierHead:
    """Locate the logits behind the output, looking through Identity nodes to a Softmax.

    Raises:
        ParameterError: the output comes from a Softmax but was declared to be logits.
    """
    producers = {output: node for node in graph.node for output in node.output}
    tensor = output_name
    while tensor in producers and producers[tensor].op_type == "Identity":
        tensor = producers[tensor].input[0]
    node = producers.get(tensor)
    if node is not None and node.op_type == "Softmax":
        if not output_is_probability:
            raise ParameterError(
                f"output '{output_name}' is produced by Softmax node '{node.name}' but was "
                "declared to be logits; pass output_is_probability=True"
            )
        axis = int(node_attr(node, "axis", -1 if opset >= 13 else 1))
        if axis not in (1, -1):
            raise ModelError(
                f"Softmax node '{node.name}' normalises over axis {axis}; the classifier "
                "output must be [N, classes] with Softmax over the last axis"
            )
        logger.debug("differentiating through the logits '%s' of Softmax node '%s'",
                     node.input[0], node.name)
        return ClassifierHead(logits=node.input[0], probabilities=output_name)
    if output_is_probability:
        return ClassifierHead(logits=None, probabilities=output_name)
    return ClassifierHead(logits=output_name, probabilities=None)


def _one_hot(ctx: GradContext, label_column: str, like: str) -> str:
    """[N, classes] one-hot of the labels, with the element type of `like`."""
    classes = ctx.op("Gather", [ctx.shape_of(like), ctx.const(1, TensorProto.INT64)], axis=0)
    arange = ctx.op("Range", [ctx.const(0, TensorProto.INT64), classes,
                              ctx.const(1, TensorProto.INT64)])
    hits = ctx.op("Equal", [ctx.unsqueeze(arange, [0]), label_column])
    return ctx.op("Cast", [hits], to=ctx.dtype(like))


def build_loss(ctx: GradContext, head: ClassifierHead, label: str) -> LossTensors:
    """Emit the per-sample loss -log p[label] and its gradient at the head (METHOD.md,
    "Adversarial set"). With logits this is LogSoftmax, with probabilities only the
    probability is clamped below before the logarithm (gradient zero where clamped)."""
    label_column = ctx.unsqueeze(label, [1])
    if head.logits is not None:
        logits = head.logits
        probabilities = head.probabilities or ctx.op("Softmax", [logits], axis=1)
        log_probabilities = ctx.op("LogSoftmax", [logits], axis=1)
        picked = ctx.op("GatherElements", [log_probabilities, label_column], axis=1)
        loss = ctx.op("Neg", [ctx.op("Reshape", [picked, ctx.ints([-1])])])
        seed = ctx.op("Sub", [probabilities, _one_hot(ctx, label_column, logits)])
        return LossTensors(head=logits, seed=seed, loss=loss, probabilities=probabilities)

    probabilities = head.probabilities
    dtype = ctx.dtype(probabilities)
    floor = ctx.const(_PROBABILITY_FLOOR.get(dtype, _DEFAULT_PROBABILITY_FLOOR), dtype)
    picked = ctx.op("GatherElements", [probabilities, label_column], axis=1)
    clamped = ctx.op("Max", [picked, floor])
    loss = ctx.op("Neg", [ctx.op("Reshape", [ctx.op("Log", [clamped]), ctx.ints([-1])])])
    unclamped = ctx.op("Less", [floor, picked])
    inverse = ctx.op("Where", [unclamped, ctx.op("Reciprocal", [clamped]),
                               ctx.const(np.zeros(()), dtype)])
    seed = ctx.op("Neg", [ctx.op("Mul", [_one_hot(ctx, label_column, probabilities), inverse])])
    return LossTensors(head=probabilities, seed=seed, loss=loss, probabilities=probabilities)
