"""Read-only analysis of the forward graph: tensor facts and the nodes a gradient crosses."""

from __future__ import annotations

import copy
import logging

import numpy as np
import onnx
from onnx import helper, numpy_helper

from nca_onnx.grad.context import FLOAT_TYPES, Dim, TensorFacts

__all__ = ["active_tensors", "collect_facts", "nodes_on_path"]

logger = logging.getLogger(__name__)

#: Operators whose outputs carry no gradient: integer/boolean results, shape queries and
#: piecewise-constant functions (derivative zero almost everywhere).
_NO_GRADIENT_OPS = frozenset({
    "Shape", "Size", "ArgMax", "ArgMin", "NonZero", "Equal", "Less", "Greater",
    "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf", "Floor",
    "Ceil", "Round", "Sign", "ConstantOfShape", "EyeLike", "RandomNormalLike",
    "RandomUniformLike", "Bernoulli",
})
_SAME_SHAPE_OPS = frozenset({
    "Identity", "Cast", "Relu", "LeakyRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
    "Tanh", "Softmax", "LogSoftmax", "Dropout", "BatchNormalization", "Neg", "Exp", "Log",
})
_BROADCAST_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Pow"})


def _constant_node_value(node: onnx.NodeProto) -> np.ndarray | None:
    for attribute in node.attribute:
        if attribute.name == "value":
            return numpy_helper.to_array(attribute.t)
        if attribute.name in ("value_float", "value_floats"):
            return np.asarray(helper.get_attribute_value(attribute), dtype=np.float32)
        if attribute.name in ("value_int", "value_ints"):
            return np.asarray(helper.get_attribute_value(attribute), dtype=np.int64)
    return None


def _value_shape(value: onnx.ValueInfoProto) -> tuple[Dim, ...] | None:
    tensor_type = value.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims: list[Dim] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param") and dim.dim_param:
            dims.append(dim.dim_param)
        else:
            dims.append(None)
    return tuple(dims)


def _inferred(model: onnx.ModelProto) -> onnx.ModelProto:
    """Shape-inferred copy; every free input dimension gets its own symbol first, so that
    two unrelated dimensions exported under one name (e.g. '?') are never taken as equal."""
    work = copy.deepcopy(model)
    initializer_names = {init.name for init in work.graph.initializer}
    for i, value in enumerate(work.graph.input):
        if value.name in initializer_names or not value.type.tensor_type.HasField("shape"):
            continue
        for j, dim in enumerate(value.type.tensor_type.shape.dim):
            if not (dim.HasField("dim_value") and dim.dim_value > 0):
                dim.dim_param = f"nca_input{i}_dim{j}"
    del work.graph.value_info[:]
    for value in work.graph.output:
        value.type.tensor_type.ClearField("shape")
    try:
        return onnx.shape_inference.infer_shapes(work, data_prop=True)
    except Exception as error:  # inference is an aid: rules fall back to run-time shapes
        logger.warning("shape inference failed (%s); gradient shapes are computed at run "
                       "time where possible", error)
        return work


def _broadcast(shapes: list[tuple[Dim, ...]]) -> tuple[Dim, ...]:
    rank = max(len(shape) for shape in shapes)
    result: list[Dim] = []
    for axis in range(rank):
        dims = {shape[axis - rank + len(shape)] for shape in shapes
                if axis - rank + len(shape) >= 0}
        dims.discard(1)
        known = [dim for dim in dims if dim is not None]
        if not dims:
            result.append(1)
        elif len(dims) == 1 or (len(known) == 1 and isinstance(known[0], int)):
            result.append(known[0] if known else None)
        else:
            result.append(None)
    return tuple(result)


def _complete_shapes(graph: onnx.GraphProto, shapes: dict[str, tuple[Dim, ...]],
                     constants: dict[str, np.ndarray]) -> None:
    """Fill in shapes onnx inference left out (it stops at e.g. a Reshape whose target comes
    from a cast shape computation) for the operators common in classifier heads."""
    for node in graph.node:
        if not node.output or node.output[0] in shapes:
            continue
        known = [shapes.get(name) for name in node.input]
        if node.op_type in _SAME_SHAPE_OPS and known and known[0] is not None:
            shapes[node.output[0]] = known[0]
        elif node.op_type in _BROADCAST_OPS and known and all(s is not None for s in known):
            shapes[node.output[0]] = _broadcast(known)  # type: ignore[arg-type]
        elif node.op_type == "Reshape" and len(known) > 1:
            target = constants.get(node.input[1])
            if target is not None and known[0] is not None:
                shapes[node.output[0]] = tuple(
                    known[0][i] if d == 0 and i < len(known[0]) else (int(d) if d > 0 else None)
                    for i, d in enumerate(target.reshape(-1)))
            elif known[1] is not None and isinstance(known[1][0], int):
                shapes[node.output[0]] = (None,) * known[1][0]
        elif node.op_type == "Flatten":
            shapes[node.output[0]] = (None, None)
        elif node.op_type == "MatMul" and all(s is not None and len(s) >= 2 for s in known):
            a, b = known
            shapes[node.output[0]] = (*_broadcast([a[:-2], b[:-2]]), a[-2], b[-1])


def collect_facts(model: onnx.ModelProto) -> TensorFacts:
    """Element types, inferred shapes and constant values of the model's tensors.

    Cost: one onnx shape inference over a copy of the model.
    """
    inferred = _inferred(model)
    graph = inferred.graph
    dtypes: dict[str, int] = {}
    shapes: dict[str, tuple[Dim, ...]] = {}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        if value.type.tensor_type.elem_type:
            dtypes[value.name] = value.type.tensor_type.elem_type
        shape = _value_shape(value)
        if shape is not None:
            shapes[value.name] = shape
    constants: dict[str, np.ndarray] = {}
    for init in graph.initializer:
        constants[init.name] = numpy_helper.to_array(init)
        dtypes[init.name] = init.data_type
        shapes[init.name] = tuple(int(d) for d in init.dims)
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            value = _constant_node_value(node)
            if value is not None:
                constants[node.output[0]] = value
                shapes.setdefault(node.output[0], tuple(int(d) for d in value.shape))
    _complete_shapes(graph, shapes, constants)
    names = {init.name for init in graph.initializer}
    names.update(value.name for value in graph.input)
    for node in model.graph.node:
        names.update(node.input)
        names.update(node.output)
        names.add(node.name)
    return TensorFacts(dtypes=dtypes, shapes=shapes, constants=constants,
                       names=frozenset(names))


def active_tensors(graph: onnx.GraphProto, input_name: str, facts: TensorFacts) -> set[str]:
    """Tensors whose value depends differentiably on the input (the input included)."""
    active = {input_name}
    for node in graph.node:
        if node.op_type in _NO_GRADIENT_OPS or not any(name in active for name in node.input):
            continue
        for k, output in enumerate(node.output):
            dtype = facts.dtypes.get(output)
            if not output or (dtype is not None and dtype not in FLOAT_TYPES):
                continue
            if node.op_type in ("MaxPool", "Dropout") and k > 0:
                continue  # indices and masks
            active.add(output)
    return active


def nodes_on_path(
    graph: onnx.GraphProto, active: set[str], target: str
) -> tuple[list[onnx.NodeProto], set[str]]:
    """Nodes between the input and `target` in graph order, and the tensors that need a
    gradient (active tensors from which `target` is reached)."""
    needed = {target}
    on_path: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if not any(output in needed for output in node.output):
            continue
        inputs = [name for name in node.input if name in active]
        if not inputs or node.op_type in _NO_GRADIENT_OPS:
            continue
        on_path.append(node)
        needed.update(inputs)
    on_path.reverse()
    return on_path, needed
