"""The state shared by gradient rules: tensor facts of the forward graph and node emission."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from nca_onnx.errors import ModelError, UnsupportedOperatorError

__all__ = ["FLOAT_TYPES", "Dim", "GradContext", "TensorFacts", "node_attr"]

logger = logging.getLogger(__name__)

#: A dimension as shape inference knows it: an int, a symbol, or None when unknown.
Dim = int | str | None

#: Element types that carry a gradient.
FLOAT_TYPES = frozenset(
    {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
)


def node_attr(node: onnx.NodeProto, name: str, default=None):
    """Value of a node attribute, or `default` when the node does not set it."""
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


@dataclass(frozen=True)
class TensorFacts:
    """What is known about the forward graph's tensors before any gradient node exists."""

    dtypes: dict[str, int]
    shapes: dict[str, tuple[Dim, ...]]
    constants: dict[str, np.ndarray]
    names: frozenset[str]


@dataclass
class GradContext:
    """Emits gradient nodes and answers questions about forward tensors.

    Rules call `op` and the opset-aware helpers; the builder collects `nodes` and
    `initializers` afterwards. Every emitted name is fresh, so nothing of the forward
    graph is ever shadowed.
    """

    opset: int
    facts: TensorFacts
    default_dtype: int
    nodes: list[onnx.NodeProto] = field(default_factory=list, init=False)
    initializers: list[onnx.TensorProto] = field(default_factory=list, init=False)
    _counter: int = field(default=0, init=False)
    _shape_cache: dict[str, str] = field(default_factory=dict, init=False)
    _const_cache: dict[tuple, str] = field(default_factory=dict, init=False)

    # ---- naming and emission -------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        """Return a tensor or node name used nowhere in the forward graph nor emitted before."""
        while True:
            self._counter += 1
            name = f"nca_grad/{hint}_{self._counter}"
            if name not in self.facts.names:
                return name

    def op(self, op_type: str, inputs: Sequence[str], n_outputs: int = 1, **attrs) -> str:
        """Emit one node and return its first output; attributes set to None are left out."""
        return self.op_multi(op_type, inputs, n_outputs, **attrs)[0]

    def op_multi(
        self, op_type: str, inputs: Sequence[str], n_outputs: int, **attrs
    ) -> list[str]:
        """Emit one node with `n_outputs` outputs and return their names."""
        outputs = [self.fresh(op_type) for _ in range(n_outputs)]
        kept = {key: value for key, value in attrs.items() if value is not None}
        node = helper.make_node(op_type, list(inputs), outputs, name=self.fresh(op_type), **kept)
        self.nodes.append(node)
        return outputs

    # ---- constants -----------------------------------------------------------------------

    def const(self, value: np.ndarray | Sequence | float | int, dtype: int) -> str:
        """Return an initializer holding `value` as `dtype`; equal constants are shared."""
        array = np.asarray(value, dtype=helper.tensor_dtype_to_np_dtype(dtype))
        key = (dtype, array.shape, array.tobytes())
        if key not in self._const_cache:
            name = self.fresh("const")
            self.initializers.append(numpy_helper.from_array(array, name))
            self._const_cache[key] = name
        return self._const_cache[key]

    def ints(self, values: Sequence[int]) -> str:
        """Return a 1-D int64 initializer."""
        return self.const(list(values), TensorProto.INT64)

    def scalar_like(self, value: float, like: str) -> str:
        """Return a scalar initializer with the element type of tensor `like`."""
        return self.const(value, self.dtype(like))

    # ---- facts about forward tensors -----------------------------------------------------

    def dtype(self, name: str) -> int:
        """Element type of a tensor, or the model input's type where inference gave none."""
        return self.facts.dtypes.get(name, self.default_dtype)

    def is_float(self, name: str) -> bool:
        return self.dtype(name) in FLOAT_TYPES

    def shape(self, name: str) -> tuple[Dim, ...] | None:
        """Inferred shape of a forward tensor, or None when even the rank is unknown."""
        return self.facts.shapes.get(name)

    def rank(self, name: str, node: onnx.NodeProto) -> int:
        """Rank of a forward tensor; raises when inference could not tell it."""
        shape = self.shape(name)
        if shape is None:
            raise ModelError(
                f"the rank of tensor '{name}' (input of {node.op_type} node '{node.name}') is "
                "unknown, so its gradient cannot be built; run onnx shape inference on the "
                "model or give the graph input a full shape"
            )
        return len(shape)

    def const_value(self, name: str) -> np.ndarray | None:
        """Value of an initializer or Constant output, else None (also for the empty name)."""
        return self.facts.constants.get(name) if name else None

    def require_const(self, name: str, node: onnx.NodeProto, what: str) -> np.ndarray:
        """Value of a constant input a rule needs at build time; raises when it is computed."""
        value = self.const_value(name)
        if value is None:
            raise UnsupportedOperatorError(
                f"{node.op_type} node '{node.name}' takes its {what} from tensor '{name}', which "
                "is computed at run time; the gradient builder needs it as an initializer or "
                "Constant: constant-fold the model first (e.g. onnxsim or onnxruntime's "
                "offline optimizer)"
            )
        return value

    # ---- run-time shapes -----------------------------------------------------------------

    def shape_of(self, name: str) -> str:
        """Run-time shape (1-D int64) of a tensor; one Shape node per tensor."""
        if name not in self._shape_cache:
            self._shape_cache[name] = self.op("Shape", [name])
        return self._shape_cache[name]

    def dims_of(self, name: str, start: int, end: int) -> str:
        """Run-time dims [start, end) of a tensor as a 1-D int64 tensor."""
        return self.op("Slice", [self.shape_of(name), self.ints([start]), self.ints([end])])

    def zeros_like(self, name: str) -> str:
        """Zeros with the run-time shape and element type of a forward tensor."""
        zero = numpy_helper.from_array(
            np.zeros(1, dtype=helper.tensor_dtype_to_np_dtype(self.dtype(name)))
        )
        return self.op("ConstantOfShape", [self.shape_of(name)], value=zero)

    # ---- opset-aware construction ----------------------------------------------------------

    def reduce_sum(self, x: str, axes: Sequence[int], keepdims: bool) -> str:
        """ReduceSum over static axes (an attribute before opset 13, an input from 13)."""
        if self.opset < 13:
            return self.op("ReduceSum", [x], axes=list(axes), keepdims=int(keepdims))
        return self.op("ReduceSum", [x, self.ints(axes)], keepdims=int(keepdims))

    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        """Unsqueeze at static axes (an attribute before opset 13, an input from 13)."""
        if self.opset < 13:
            return self.op("Unsqueeze", [x], axes=list(axes))
        return self.op("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x: str, axes: Sequence[int]) -> str:
        """Squeeze static axes (an attribute before opset 13, an input from 13)."""
        if self.opset < 13:
            return self.op("Squeeze", [x], axes=list(axes))
        return self.op("Squeeze", [x, self.ints(axes)])

    def slice(
        self,
        x: str,
        starts: Sequence[int] | str,
        ends: Sequence[int] | str,
        axes: Sequence[int],
        steps: Sequence[int] | None = None,
    ) -> str:
        """Slice; starts and ends are static lists or run-time 1-D int64 tensors."""
        inputs = [
            starts if isinstance(starts, str) else self.ints(starts),
            ends if isinstance(ends, str) else self.ints(ends),
            self.ints(axes),
        ]
        if steps is not None:
            inputs.append(self.ints(steps))
        return self.op("Slice", [x, *inputs])

    def reshape_like(self, g: str, like: str) -> str:
        """Reshape a gradient to the run-time shape of forward tensor `like`."""
        return self.op("Reshape", [g, self.shape_of(like)])

    # ---- broadcasting --------------------------------------------------------------------

    def reduce_to_operand(
        self, g: str, operand: str, peers: Sequence[str], node: onnx.NodeProto,
        peer_shapes: Sequence[tuple[Dim, ...] | None] | None = None,
    ) -> str:
        """Sum a broadcast gradient back to the shape of `operand`.

        `peers` are the other tensors broadcast together with `operand` (their shapes may
        be given directly as `peer_shapes` instead). Axes are decided from inferred shapes
        where possible; an axis whose broadcast cannot be decided at build time is resolved
        at run time with Where and Slice, which works in every supported opset.
        """
        op_shape = self.shape(operand)
        if peer_shapes is None:
            peer_shapes = [self.shape(peer) for peer in peers if peer and peer != operand]
        if op_shape is None or any(shape is None for shape in peer_shapes):
            return self._reduce_at_run_time(g, operand, node)
        out_rank = max([len(op_shape), *(len(shape) for shape in peer_shapes)])
        lead = out_rank - len(op_shape)
        sum_axes = list(range(lead))
        undecided = []
        for i, dim in enumerate(op_shape):
            axis = lead + i
            peer_dims = [shape[axis - (out_rank - len(shape))]
                         for shape in peer_shapes if axis - (out_rank - len(shape)) >= 0]
            if all(peer == 1 or (peer == dim and peer is not None) for peer in peer_dims):
                continue  # the output has this operand's dimension
            if dim == 1:
                sum_axes.append(axis)
            elif dim is None or isinstance(dim, str):
                undecided.append(axis)
        if not sum_axes and not undecided:
            return g
        if sum_axes:
            g = self.reduce_sum(g, sum_axes, keepdims=True)
        for axis in undecided:
            g = self._reduce_axis_if_one(g, operand, axis - lead, axis)
        return self.reshape_like(g, operand)

    def _reduce_axis_if_one(self, g: str, operand: str, op_axis: int, g_axis: int) -> str:
        dim = self.dims_of(operand, op_axis, op_axis + 1)
        summed = self.reduce_sum(g, [g_axis], keepdims=True)
        is_one = self.op("Equal", [dim, self.ints([1])])
        chosen = self.op("Where", [is_one, summed, g])
        return self.slice(chosen, [0], dim, [g_axis])

    def _reduce_at_run_time(self, g: str, operand: str, node: onnx.NodeProto) -> str:
        g_rank = self.rank(node.output[0], node)
        op_rank = self.rank(operand, node)
        lead = g_rank - op_rank
        if lead > 0:
            g = self.reduce_sum(g, list(range(lead)), keepdims=True)
        for i in range(op_rank):
            g = self._reduce_axis_if_one(g, operand, i, lead + i)
        return self.reshape_like(g, operand)
