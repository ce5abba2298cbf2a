"""The bytes of one neuron's filter and bias as stored in the model, and their checksums.

The slice of the weight initializer W that belongs to neuron k is exactly the part
the reference path zeroes (nca_onnx/engine/reference.py):

- Conv, W [C_out, C_in/groups, kH, kW]: W[k, ...].
- ConvTranspose, W [C_in, C_out/groups, kH, kW]: with p = W.shape[1] outputs per
  group and q = C_in/groups inputs per group, g = k // p: W[g*q:(g+1)*q, k % p, ...].
- Gemm with transB = 1, W [N, K]: W[k, :]; Gemm with transB = 0, W [K, N]: W[:, k].
- MatMul, W [K, N]: W[:, k].

The bias element is B[..., k] when the last axis of B has one entry per neuron,
else (a bias shared by all neurons) the whole of B. The checksum is SHA-256 of the
slice's elements in C order as little-endian bytes of the initializer's own type.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from nca_onnx.graph.neurons import Layer

__all__ = ["SLICE_DEFINITION", "FilterChecksum", "bias_index", "filter_checksums",
           "filter_index", "layer_arrays"]

SLICE_DEFINITION = {
    "Conv": "W[k, ...] of W [C_out, C_in/groups, kH, kW]",
    "ConvTranspose": "W[g*q:(g+1)*q, k % p, ...] of W [C_in, C_out/groups, kH, kW], "
                     "p = W.shape[1], q = C_in/groups, g = k // p",
    "Gemm": "W[k, :] when transB = 1, W[:, k] when transB = 0",
    "MatMul": "W[:, k] of W [K, N]",
    "bias": "B[..., k] when B's last axis has one entry per neuron, else all of B (shared)",
    "bytes": "elements in C order, little-endian, in the initializer's own data type",
}


@dataclass(frozen=True)
class FilterChecksum:
    """SHA-256 of one neuron's weight slice and bias element, with what was hashed."""

    weight_sha256: str
    weight_bytes: int
    weight_slice: str
    bias_sha256: str | None
    bias_slice: str | None
    dtype: str


def filter_index(shape: tuple[int, ...], op_type: str, groups: int, neuron: int,
                 transposed_b: bool) -> tuple:
    """The numpy index of neuron `neuron`'s slice in a weight of `shape` (module docstring)."""
    rest = (slice(None),) * (len(shape) - 2)
    if op_type == "Conv":
        return (neuron, *(slice(None),) * (len(shape) - 1))
    if op_type == "ConvTranspose":
        per_group = shape[1]
        inputs_per_group = shape[0] // groups
        group = neuron // per_group
        rows = slice(group * inputs_per_group, (group + 1) * inputs_per_group)
        return (rows, neuron % per_group, *rest)
    if op_type == "Gemm" and transposed_b:
        return (neuron, slice(None))
    return (slice(None), neuron)


def bias_index(shape: tuple[int, ...], neurons: int, neuron: int) -> tuple | None:
    """The index of the neuron's bias in a bias of `shape`; None when it is shared."""
    if shape and shape[-1] == neurons:
        return (..., neuron)
    return None


def _describe(index: tuple) -> str:
    def part(item) -> str:
        if item is Ellipsis:
            return "..."
        if isinstance(item, slice):
            if item.start is None and item.stop is None:
                return ":"
            return f"{item.start}:{item.stop}"
        return str(item)
    return "[" + ", ".join(part(item) for item in index) + "]"


def _sha256(values: np.ndarray) -> tuple[str, int]:
    data = np.ascontiguousarray(values)
    data = data.astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def layer_arrays(proto: onnx.ModelProto, layer: Layer) -> tuple[np.ndarray, np.ndarray | None,
                                                                 bool]:
    """(weight, bias or None, transB) of a layer, read from the model's initializers."""
    initializers = {tensor.name: tensor for tensor in proto.graph.initializer}
    node = next(n for n in proto.graph.node if n.name == layer.name)
    transposed_b = any(a.name == "transB" and a.i for a in node.attribute)
    weight = numpy_helper.to_array(initializers[layer.weight])
    bias = None if layer.bias is None else numpy_helper.to_array(initializers[layer.bias])
    return weight, bias, transposed_b


def filter_checksums(layer: Layer, weight: np.ndarray, bias: np.ndarray | None,
                     transposed_b: bool, neuron: int) -> FilterChecksum:
    """Checksums of neuron `neuron` of `layer`, given the layer's arrays (`layer_arrays`)."""
    index = filter_index(weight.shape, layer.op_type, layer.groups, neuron, transposed_b)
    weight_sha256, weight_bytes = _sha256(weight[index])
    bias_sha256 = bias_slice = None
    if bias is not None:
        shared = bias_index(bias.shape, layer.neurons, neuron)
        bias_sha256 = _sha256(bias if shared is None else bias[shared])[0]
        bias_slice = "all (shared)" if shared is None else _describe(shared)
    return FilterChecksum(weight_sha256, weight_bytes, _describe(index), bias_sha256,
                          bias_slice, str(weight.dtype))
