"""Graph fragments that inject neuron faults: K faulty copies of a batch in one run."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["KEEP_INPUT", "fault_injection_nodes", "tiling_nodes", "unsqueeze_front"]

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


def fault_injection_nodes(tensor: str, target: str, fault_value: np.ndarray,
                          channel_axis: int, rank: int, elem_type: int, opset: int):
    """Nodes writing K faulty copies of `tensor` [N, ...] into `target` [K*N, ...].

    Row k of the graph input KEEP_INPUT [K, C] holds 1 for channels that work and
    0 for the failed ones; a failed channel takes `fault_value[c]`, which is [C]
    (a constant per channel) or [C, *spatial] (a map per channel, for a fault
    carried through depthwise convolutions). A row of ones reproduces `tensor` bit
    for bit (x * 1 + 0), which gives the unmasked baseline from the same kernels.

    Returns (nodes, initializers).
    """
    prefix = "nca_fault"
    broadcast = [1] * (rank + 1)
    broadcast[0] = -1
    broadcast[channel_axis + 1] = fault_value.shape[0]
    value_shape = [1] * (rank + 1)
    value_shape[channel_axis + 1:channel_axis + 1 + fault_value.ndim] = fault_value.shape
    inits = [
        _const(f"{prefix}_value", fault_value.astype(np.float32).reshape(value_shape)),
        _const(f"{prefix}_one_f", np.array(1.0, dtype=np.float32)),
        _const(f"{prefix}_broadcast", np.array(broadcast, dtype=np.int64)),
    ]
    keep, fill = f"{prefix}_keep_b", f"{prefix}_fill"
    nodes = [
        helper.make_node("Sub", [inits[1].name, KEEP_INPUT], [f"{prefix}_failed"],
                         name=f"{prefix}_failed"),
        helper.make_node("Reshape", [f"{prefix}_failed", inits[2].name], [f"{prefix}_failed_b"],
                         name=f"{prefix}_failed_r"),
        helper.make_node("Mul", [f"{prefix}_failed_b", inits[0].name], [fill],
                         name=f"{prefix}_fill"),
        helper.make_node("Reshape", [KEEP_INPUT, inits[2].name], [keep], name=f"{prefix}_keep_r"),
    ]
    if elem_type != onnx.TensorProto.FLOAT:
        nodes += [
            helper.make_node("Cast", [keep], [f"{keep}_c"], to=elem_type, name=f"{keep}_cast"),
            helper.make_node("Cast", [fill], [f"{fill}_c"], to=elem_type, name=f"{fill}_cast"),
        ]
        keep, fill = f"{keep}_c", f"{fill}_c"

    more_nodes, more_inits = unsqueeze_front(tensor, f"{prefix}_unsqueezed", opset, prefix)
    nodes += more_nodes
    inits += more_inits
    nodes += [
        helper.make_node("Mul", [f"{prefix}_unsqueezed", keep], [f"{prefix}_kept"],
                         name=f"{prefix}_keep"),
        helper.make_node("Add", [f"{prefix}_kept", fill], [f"{prefix}_masked"],
                         name=f"{prefix}_inject"),
    ]
    fold_nodes, fold_inits = _fold_front(f"{prefix}_masked", tensor, target, f"{prefix}_fold")
    return nodes + fold_nodes, inits + fold_inits


def tiling_nodes(tensor: str, target: str, opset: int, tag: str):
    """Nodes repeating a batched tensor [N, ...] K times into `target` [K*N, ...].

    K is read from the first dimension of KEEP_INPUT at run time.
    """
    prefix = f"nca_tile{tag}"
    inits = [
        _const(f"{prefix}_zero", np.array([0], dtype=np.int64)),
        _const(f"{prefix}_one", np.array([1], dtype=np.int64)),
    ]
    nodes, unsqueeze_inits = unsqueeze_front(tensor, f"{prefix}_unsqueezed", opset, prefix)
    inits += unsqueeze_inits
    nodes += [
        helper.make_node("Shape", [KEEP_INPUT], [f"{prefix}_keep_shape"],
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
