"""Graph fragments that inject neuron faults: K faulty copies of a batch in one run."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["KEEP_INPUT", "fault_injection_nodes", "folded_fault_nodes", "tiling_nodes",
           "unsqueeze_front"]

KEEP_INPUT = "nca_keep"
_MAX_INT64 = np.iinfo(np.int64).max


def _const(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values), name)


def unsqueeze_front(source: str, target: str, opset: int, prefix: str):
    """Nodes and initializers that add a leading axis of size 1 (opset-aware)."""
    if opset >= 13:
        axes = _const(f"{prefix}_axes", np.array([0], dtype=np.int64))
        node = helper.make_node("Unsqueeze", [source, axes.name], [target],
                                name=f"{prefix}_unsqueeze")
        return [node], [axes]
    node = helper.make_node("Unsqueeze", [source], [target], axes=[0], name=f"{prefix}_unsqueeze")
    return [node], []


def _fold_front(source: str, shape_of: str, target: str, prefix: str):
    """Reshape [K, N, ...] to [K*N, ...] using the run-time shape of `shape_of`."""
    inits = [
        _const(f"{prefix}_one", np.array([1], dtype=np.int64)),
        _const(f"{prefix}_end", np.array([_MAX_INT64], dtype=np.int64)),
        _const(f"{prefix}_minus_one", np.array([-1], dtype=np.int64)),
    ]
    nodes = [
        helper.make_node("Shape", [shape_of], [f"{prefix}_shape"], name=f"{prefix}_shape"),
        helper.make_node("Slice", [f"{prefix}_shape", inits[0].name, inits[1].name],
                         [f"{prefix}_tail"], name=f"{prefix}_tail"),
        helper.make_node("Concat", [inits[2].name, f"{prefix}_tail"], [f"{prefix}_folded"],
                         axis=0, name=f"{prefix}_folded_shape"),
        helper.make_node("Reshape", [source, f"{prefix}_folded"], [target],
                         name=f"{prefix}_fold"),
    ]
    return nodes, inits


def _keep_and_value(fault_value: np.ndarray, channel_axis: int, rank: int, elem_type: int,
                    keep_input: str, prefix: str):
    """Nodes giving `keep` (bool) and `value`, both broadcasting to [K, N, ...].

    `keep` is row k of `keep_input` (true = working channel) on the channel axis;
    `value` is the fault value of each channel. Returns (nodes, initializers, keep,
    value).
    """
    broadcast = [1] * (rank + 1)
    broadcast[0] = -1
    broadcast[channel_axis + 1] = fault_value.shape[0]
    value_shape = [1] * (rank + 1)
    value_shape[channel_axis + 1:channel_axis + 1 + fault_value.ndim] = fault_value.shape
    value_type = helper.tensor_dtype_to_np_dtype(elem_type)
    inits = [
        _const(f"{prefix}_value", fault_value.astype(value_type).reshape(value_shape)),
        _const(f"{prefix}_broadcast", np.array(broadcast, dtype=np.int64)),
    ]
    keep = f"{prefix}_keep_b"
    nodes = [
        helper.make_node("Reshape", [keep_input, inits[1].name], [f"{prefix}_keep_r"],
                         name=f"{prefix}_keep_r"),
        helper.make_node("Cast", [f"{prefix}_keep_r"], [keep], to=onnx.TensorProto.BOOL,
                         name=f"{prefix}_keep_b"),
    ]
    return nodes, inits, keep, inits[0].name


def _inject(source: str, keep: str, value: str, prefix: str) -> list[onnx.NodeProto]:
    """Where(keep, source [K, N, ...], value) -> `{prefix}_masked`.

    One selection, so a kept channel is the source bit for bit and a failed one is
    exactly its fault value.
    """
    return [helper.make_node("Where", [keep, source, value], [f"{prefix}_masked"],
                             name=f"{prefix}_inject")]


def fault_injection_nodes(tensor: str, target: str, fault_value: np.ndarray,
                          channel_axis: int, rank: int, elem_type: int, opset: int,
                          keep_input: str = KEEP_INPUT, prefix: str = "nca_fault"):
    """Nodes writing K faulty copies of `tensor` [N, ...] into `target` [K*N, ...].

    Row k of the graph input `keep_input` [K, C] holds 1 for channels that work and
    0 for the failed ones; a failed channel takes `fault_value[c]`, which is [C]
    (a constant per channel) or [C, *spatial] (a map per channel, for a fault
    carried through depthwise convolutions). A row of ones reproduces `tensor` bit
    for bit, which gives the unmasked baseline from the same kernels.
    `prefix` keeps the names of several injections in one graph apart.

    Returns (nodes, initializers).
    """
    nodes, inits, keep, value = _keep_and_value(fault_value, channel_axis, rank, elem_type,
                                                keep_input, prefix)
    more_nodes, more_inits = unsqueeze_front(tensor, f"{prefix}_unsqueezed", opset, prefix)
    nodes += more_nodes + _inject(f"{prefix}_unsqueezed", keep, value, prefix)
    inits += more_inits
    fold_nodes, fold_inits = _fold_front(f"{prefix}_masked", tensor, target, f"{prefix}_fold")
    return nodes + fold_nodes, inits + fold_inits


def folded_fault_nodes(tensor: str, target: str, fault_value: np.ndarray, channel_axis: int,
                       rank: int, elem_type: int, keep_input: str, prefix: str):
    """Nodes applying row k of `keep_input` [K, C] to block k of a folded tensor.

    `tensor` is [K*N, ...], K copies of a batch of N already folded together (as
    `fault_injection_nodes` and `tiling_nodes` make them): it is unfolded to
    [K, N, ...], channel c of copy k is kept or replaced by `fault_value[c]` ([C]),
    and the result is folded back into `target` [K*N, ...]. A row of ones leaves
    its copy unchanged bit for bit.

    Returns (nodes, initializers).
    """
    nodes, inits, keep, value = _keep_and_value(fault_value, channel_axis, rank, elem_type,
                                                keep_input, prefix)
    inits += [
        _const(f"{prefix}_zero", np.array([0], dtype=np.int64)),
        _const(f"{prefix}_one", np.array([1], dtype=np.int64)),
        _const(f"{prefix}_end", np.array([_MAX_INT64], dtype=np.int64)),
        _const(f"{prefix}_minus_one", np.array([-1], dtype=np.int64)),
    ]
    zero, one, end, minus_one = (init.name for init in inits[-4:])
    nodes += [
        helper.make_node("Shape", [keep_input], [f"{prefix}_keep_shape"],
                         name=f"{prefix}_keep_shape"),
        helper.make_node("Slice", [f"{prefix}_keep_shape", zero, one], [f"{prefix}_k"],
                         name=f"{prefix}_k"),
        helper.make_node("Shape", [tensor], [f"{prefix}_shape"], name=f"{prefix}_shape"),
        helper.make_node("Slice", [f"{prefix}_shape", one, end], [f"{prefix}_tail"],
                         name=f"{prefix}_tail"),
        helper.make_node("Concat", [f"{prefix}_k", minus_one, f"{prefix}_tail"],
                         [f"{prefix}_unfolded_shape"], axis=0,
                         name=f"{prefix}_unfolded_shape"),
        helper.make_node("Reshape", [tensor, f"{prefix}_unfolded_shape"],
                         [f"{prefix}_unfolded"], name=f"{prefix}_unfold"),
    ]
    nodes += _inject(f"{prefix}_unfolded", keep, value, prefix)
    fold_nodes, fold_inits = _fold_front(f"{prefix}_masked", tensor, target, f"{prefix}_fold")
    return nodes + fold_nodes, inits + fold_inits


def tiling_nodes(tensor: str, target: str, opset: int, tag: str,
                 keep_input: str = KEEP_INPUT):
    """Nodes repeating a batched tensor [N, ...] K times into `target` [K*N, ...].

    K is read from the first dimension of `keep_input` at run time.
    """
    prefix = f"nca_tile{tag}"
    inits = [
        _const(f"{prefix}_zero", np.array([0], dtype=np.int64)),
        _const(f"{prefix}_one", np.array([1], dtype=np.int64)),
    ]
    nodes, unsqueeze_inits = unsqueeze_front(tensor, f"{prefix}_unsqueezed", opset, prefix)
    inits += unsqueeze_inits
    nodes += [
        helper.make_node("Shape", [keep_input], [f"{prefix}_keep_shape"],
                         name=f"{prefix}_keep_shape"),
        helper.make_node("Slice", [f"{prefix}_keep_shape", inits[0].name, inits[1].name],
                         [f"{prefix}_k"], name=f"{prefix}_k"),
        helper.make_node("Shape", [tensor], [f"{prefix}_shape"], name=f"{prefix}_shape"),
        helper.make_node("Concat", [f"{prefix}_k", f"{prefix}_shape"], [f"{prefix}_expanded"],
                         axis=0, name=f"{prefix}_expanded_shape"),
        helper.make_node("Expand", [f"{prefix}_unsqueezed", f"{prefix}_expanded"],
                         [f"{prefix}_repeated"], name=f"{prefix}_expand"),
    ]
    fold_nodes, fold_inits = _fold_front(f"{prefix}_repeated", tensor, target,
                                         f"{prefix}_fold")
    return nodes + fold_nodes, inits + fold_inits
