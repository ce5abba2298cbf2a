"""A registry of small classifiers built in code, one per graph pattern the engine must cut."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CLASSES = 5
SIZE = 8
OPSET = 18

_BUILDERS: dict[str, Callable[["_Graph"], str]] = {}


class _Graph:
    """Collects nodes and seeded random initializers while a builder wires a model."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def weight(self, name: str, shape: tuple[int, ...], scale: float = 0.5) -> str:
        value = (self.rng.normal(size=shape) * scale).astype(np.float32)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def const(self, name: str, value) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=f"{op.lower()}_{output}",
                                           **attributes))
        return output

    def conv(self, source: str, name: str, c_in: int, c_out: int, kernel: int = 3,
             group: int = 1, stride: int = 1, bias: bool = True) -> str:
        inputs = [source, self.weight(f"{name}.w", (c_out, c_in // group, kernel, kernel))]
        if bias:
            inputs.append(self.weight(f"{name}.b", (c_out,)))
        pad = kernel // 2
        return self.node("Conv", inputs, name, kernel_shape=[kernel, kernel], group=group,
                         strides=[stride, stride], pads=[pad] * 4)

    def head(self, source: str, channels: int) -> str:
        pooled = self.node("GlobalAveragePool", [source], "pooled")
        flat = self.node("Flatten", [pooled], "flat", axis=1)
        return self.node("Gemm", [flat, self.weight("fc.w", (CLASSES, channels)),
                                  self.weight("fc.b", (CLASSES,))], "logits", transB=1)


def register(name: str):
    def decorator(builder: Callable[[_Graph], str]):
        _BUILDERS[name] = builder
        return builder
    return decorator


@register("conv")
def _conv(g: _Graph) -> str:
    x = g.node("Relu", [g.conv("input", "conv1", 3, 4)], "relu1")
    x = g.node("Relu", [g.conv(x, "conv2", 4, 6, stride=2)], "relu2")
    return g.head(x, 6)


@register("depthwise")
def _depthwise(g: _Graph) -> str:
    x = g.node("Relu", [g.conv("input", "expand", 3, 6, kernel=1)], "relu1")
    x = g.node("Clip", [g.conv(x, "dw", 6, 6, group=6), g.const("lo", np.float32(0)),
                        g.const("hi", np.float32(6))], "relu6")
    return g.head(g.conv(x, "project", 6, 4, kernel=1, bias=False), 4)


@register("grouped")
def _grouped(g: _Graph) -> str:
    x = g.node("Relu", [g.conv("input", "conv1", 3, 6)], "relu1")
    x = g.node("Relu", [g.conv(x, "grouped", 6, 4, group=2)], "relu2")
    return g.head(x, 4)


@register("residual")
def _residual(g: _Graph) -> str:
    skip = g.node("Relu", [g.conv("input", "stem", 3, 4)], "stem_relu")
    x = g.node("Relu", [g.conv(skip, "branch1", 4, 4)], "branch_relu")
    x = g.node("Add", [g.conv(x, "branch2", 4, 4), skip], "sum")
    return g.head(g.node("Relu", [x], "sum_relu"), 4)


@register("concat")
def _concat(g: _Graph) -> str:
    a = g.node("Relu", [g.conv("input", "left", 3, 2)], "left_relu")
    b = g.node("Relu", [g.conv("input", "right", 3, 3, kernel=1)], "right_relu")
    x = g.node("Concat", [a, b], "joined", axis=1)
    return g.head(g.node("Relu", [g.conv(x, "fuse", 5, 4)], "fuse_relu"), 4)


@register("conv_transpose")
def _conv_transpose(g: _Graph) -> str:
    x = g.node("Relu", [g.conv("input", "down", 3, 4, stride=2)], "down_relu")
    x = g.node("ConvTranspose", [x, g.weight("up.w", (4, 3, 2, 2)), g.weight("up.b", (6,))],
               "up", strides=[2, 2], group=2, kernel_shape=[2, 2])
    return g.head(g.node("Relu", [x], "up_relu"), 6)


@register("matmul_add")
def _matmul_add(g: _Graph) -> str:
    x = g.node("Relu", [g.conv("input", "conv1", 3, 4)], "relu1")
    pooled = g.node("Flatten", [g.node("GlobalAveragePool", [x], "pooled")], "flat", axis=1)
    hidden = g.node("MatMul", [pooled, g.weight("dense.w", (4, 7))], "dense")
    hidden = g.node("Relu", [g.node("Add", [hidden, g.weight("dense.b", (7,))], "dense_b")],
                    "dense_relu")
    scores = g.node("MatMul", [hidden, g.weight("out.w", (7, CLASSES))], "out")
    return g.node("Add", [g.weight("out.b", (CLASSES,)), scores], "logits")


@register("nhwc")
def _nhwc(g: _Graph) -> str:
    x = g.node("Transpose", ["input"], "to_nchw", perm=[0, 3, 1, 2])
    x = g.node("Relu", [g.conv(x, "conv1", 3, 4)], "relu1")
    x = g.node("Transpose", [x], "to_nhwc", perm=[0, 2, 3, 1])
    pooled = g.node("ReduceMean", [x, g.const("axes", np.array([1, 2], dtype=np.int64))],
                    "pooled", keepdims=0)
    scores = g.node("MatMul", [pooled, g.weight("out.w", (4, CLASSES))], "out")
    return g.node("Add", [scores, g.weight("out.b", (CLASSES,))], "logits")


@register("softmax")
def _softmax(g: _Graph) -> str:
    x = g.node("Relu", [g.conv("input", "conv1", 3, 4)], "relu1")
    return g.node("Softmax", [g.head(x, 4)], "probabilities", axis=1)


NAMES = tuple(_BUILDERS)


def build(name: str, seed: int = 0) -> onnx.ModelProto:
    """The toy model `name`: input [N, 3, 8, 8] (NHWC for 'nhwc'), output [N, 5]."""
    graph = _Graph(seed)
    output = _BUILDERS[name](graph)
    shape = ["N", SIZE, SIZE, 3] if name == "nhwc" else ["N", 3, SIZE, SIZE]
    model = helper.make_model(
        helper.make_graph(graph.nodes, name, [helper.make_tensor_value_info(
            "input", TensorProto.FLOAT, shape)], [helper.make_tensor_value_info(
                output, TensorProto.FLOAT, ["N", CLASSES])], graph.initializers),
        opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model, full_check=True)
    return model


def save(name: str, folder: Path, seed: int = 0) -> Path:
    path = folder / f"{name}.onnx"
    onnx.save(build(name, seed), str(path))
    return path


def inputs(name: str, count: int = 6, seed: int = 1) -> np.ndarray:
    shape = (count, SIZE, SIZE, 3) if name == "nhwc" else (count, 3, SIZE, SIZE)
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)
