"""Build an ONNX model that returns the loss, the probabilities and d loss / d input."""

from __future__ import annotations

import copy
import logging

import onnx
from onnx import TensorProto, helper

from nca_onnx.errors import ModelError, UnsupportedOperatorError

# The rule modules register themselves on import (unused names on purpose).
from nca_onnx.grad import (  # noqa: F401
    rules_activation,
    rules_arith,
    rules_conv,
    rules_linear,
    rules_pool,
    rules_shape,
)
from nca_onnx.grad.analysis import active_tensors, collect_facts, nodes_on_path
from nca_onnx.grad.context import GradContext
from nca_onnx.grad.loss import build_loss, find_head
from nca_onnx.grad.registry import rule_for

__all__ = [
    "INPUT_GRAD_OUTPUT",
    "LABEL_INPUT",
    "LOSS_OUTPUT",
    "MAX_OPSET",
    "MIN_OPSET",
    "PROBABILITIES_OUTPUT",
    "build_gradient_model",
]

logger = logging.getLogger(__name__)

LABEL_INPUT = "label"
LOSS_OUTPUT = "loss"
PROBABILITIES_OUTPUT = "probabilities"
INPUT_GRAD_OUTPUT = "input_grad"
MIN_OPSET = 11
MAX_OPSET = 21
_RESERVED = (LABEL_INPUT, LOSS_OUTPUT, PROBABILITIES_OUTPUT, INPUT_GRAD_OUTPUT)


def _default_opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            if not MIN_OPSET <= entry.version <= MAX_OPSET:
                raise ModelError(
                    f"the model uses ONNX opset {entry.version}; gradients are built for "
                    f"opsets {MIN_OPSET} to {MAX_OPSET}: convert it with "
                    "onnx.version_converter.convert_version"
                )
            return int(entry.version)
    raise ModelError("the model imports no default-domain ONNX opset; it is not a valid model")


def _rename_reserved(graph: onnx.GraphProto) -> dict[str, str]:
    """Rename forward tensors that hold one of the gradient model's interface names."""
    renames = {name: f"nca_forward/{name}" for name in _RESERVED}
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for collection in (graph.initializer, graph.input, graph.output, graph.value_info):
        for item in collection:
            item.name = renames.get(item.name, item.name)
    return renames


def _check_interface(graph: onnx.GraphProto, input_name: str, output_name: str) -> None:
    inputs = [value.name for value in graph.input]
    outputs = [value.name for value in graph.output]
    if input_name not in inputs:
        raise ModelError(f"input '{input_name}' is not a graph input; inputs: {inputs}")
    if output_name not in outputs:
        raise ModelError(f"output '{output_name}' is not a graph output; outputs: {outputs}")
    if input_name in _RESERVED:
        raise ModelError(
            f"the model input is named '{input_name}', a name the gradient model needs for "
            "itself; rename the input (e.g. with onnx.compose.add_prefix)"
        )


def _total(ctx: GradContext, parts: list[str] | None) -> str | None:
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ctx.op("Sum", parts)


def _backpropagate(ctx: GradContext, graph: onnx.GraphProto, input_name: str, head: str,
                   seed: str, active: set[str]) -> str:
    """Emit the backward pass from `head` (gradient `seed`) to the input; return its name."""
    path, needed = nodes_on_path(graph, active, head)
    logger.debug("gradient path: %d of %d nodes", len(path), len(graph.node))
    grads: dict[str, list[str]] = {head: [seed]}
    for node in reversed(path):
        output_grads = [_total(ctx, grads.pop(name, None)) for name in node.output]
        if all(g is None for g in output_grads):
            continue
        wanted = [bool(name) and name in needed and name in active for name in node.input]
        logger.debug("gradient of %s node '%s'", node.op_type, node.name)
        input_grads = list(rule_for(node)(ctx, node, output_grads, wanted))
        for k, (name, want) in enumerate(zip(node.input, wanted)):
            grad = input_grads[k] if k < len(input_grads) else None
            if want and grad is None:
                raise UnsupportedOperatorError(
                    f"{node.op_type} node '{node.name}': input {k} ('{name}') depends on the "
                    "model input but the rule has no gradient for it; make that input a "
                    "constant"
                )
            if want:
                grads.setdefault(name, []).append(grad)
    result = _total(ctx, grads.get(input_name))
    if result is None:
        raise ModelError(f"the output does not depend on input '{input_name}'")
    return result


def _prune(graph: onnx.GraphProto) -> None:
    """Drop nodes, initializers and inputs the graph outputs do not need."""
    needed = {value.name for value in graph.output}
    kept = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    initializers = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    inputs = [value for value in graph.input if value.name in needed]
    del graph.input[:]
    graph.input.extend(inputs)


def _batch_dim(value: onnx.ValueInfoProto) -> int | str:
    dims = value.type.tensor_type.shape.dim
    if dims and dims[0].HasField("dim_value") and dims[0].dim_value > 0:
        return int(dims[0].dim_value)
    if dims and dims[0].dim_param:
        return dims[0].dim_param
    return "batch"


def build_gradient_model(
    model: onnx.ModelProto, input_name: str, output_name: str, output_is_probability: bool
) -> onnx.ModelProto:
    """Return a new model computing the cross-entropy loss and its gradient w.r.t. the input.

    The result has inputs `input_name` (unchanged) and `label` (int64 [N]) and outputs
    `loss` (float [N], -log p[label], METHOD.md "Adversarial set"), `probabilities`
    ([N, classes]) and `input_grad` (d sum(loss) / d input, shaped like the input). When the
    output comes from a Softmax (possibly behind Identity nodes) the loss is taken on its
    logits, for numerical stability. The input model is not modified. Cost: one shape
    inference and one onnx.checker pass; the gradient model runs in roughly two to three
    times the forward time.

    Args:
        model: classifier whose `output_name` is [N, classes].
        input_name: the image input to differentiate against.
        output_name: the class scores.
        output_is_probability: True when `output_name` holds probabilities (e.g. ends in
            Softmax), False for logits.

    Raises:
        ModelError: the opset is outside 11-21, the names are not graph input/output, the
            output does not depend on the input, or the built model fails onnx.checker.
        UnsupportedOperatorError: a node on the gradient path has no rule.
        ParameterError: the output comes from a Softmax but is declared to be logits.
    """
    opset = _default_opset(model)
    _check_interface(model.graph, input_name, output_name)

    work = copy.deepcopy(model)
    graph = work.graph
    output_name = _rename_reserved(graph).get(output_name, output_name)
    input_value = next(value for value in graph.input if value.name == input_name)
    facts = collect_facts(work)
    ctx = GradContext(opset=opset, facts=facts,
                      default_dtype=input_value.type.tensor_type.elem_type or TensorProto.FLOAT)

    head = find_head(graph, output_name, output_is_probability, opset)
    active = active_tensors(graph, input_name, facts)
    head_tensor = head.logits if head.logits is not None else head.probabilities
    if head_tensor not in active:
        raise ModelError(f"output '{output_name}' does not depend on input '{input_name}'")
    head_shape = facts.shapes.get(head_tensor)
    if head_shape is not None and len(head_shape) != 2:
        raise ModelError(
            f"the class scores '{head_tensor}' have rank {len(head_shape)}; the gradient "
            "builder needs [N, classes]: flatten the output in the model"
        )
    losses = build_loss(ctx, head, LABEL_INPUT)
    input_grad = _backpropagate(ctx, graph, input_name, losses.head, losses.seed, active)

    for source, target in ((losses.loss, LOSS_OUTPUT), (losses.probabilities,
                                                        PROBABILITIES_OUTPUT),
                           (input_grad, INPUT_GRAD_OUTPUT)):
        ctx.nodes.append(helper.make_node("Identity", [source], [target],
                                          name=ctx.fresh(f"output_{target}")))
    graph.node.extend(ctx.nodes)
    graph.initializer.extend(ctx.initializers)
    batch = _batch_dim(input_value)
    score_type = facts.dtypes.get(losses.probabilities, ctx.default_dtype)
    classes = (facts.shapes.get(head_tensor) or (None, None))[-1]
    classes = classes if isinstance(classes, int) else None
    graph.input.append(helper.make_tensor_value_info(LABEL_INPUT, TensorProto.INT64, [batch]))
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info(LOSS_OUTPUT, score_type, [batch]),
        helper.make_tensor_value_info(PROBABILITIES_OUTPUT, score_type, [batch, classes]),
        helper.make_tensor_value_info(INPUT_GRAD_OUTPUT, input_value.type.tensor_type.elem_type,
                                      None),
    ])
    graph.output[2].type.CopyFrom(input_value.type)
    del graph.value_info[:]
    _prune(graph)

    try:
        onnx.checker.check_model(work)
    except onnx.checker.ValidationError as error:
        raise ModelError(f"the built gradient model is not valid ONNX: {error}") from error
    logger.info("built gradient model: %d forward and %d gradient nodes", len(model.graph.node),
                len(ctx.nodes))
    return work
