"""Activation and Softmax gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from .gradcheck import away_from, check_gradient, classifier, tensor

F64 = np.float64
SHAPE = (2, 3, 4)


def _x(kinks: list[float], dtype=F64, scale: float = 2.0, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).standard_normal(SHAPE) * scale
    return away_from(values, kinks, margin=0.05).astype(dtype)


@pytest.mark.parametrize("op,attributes,kinks,dtype", [
    ("Relu", {}, [0.0], F64),
    ("LeakyRelu", {"alpha": 0.2}, [0.0], F64),
    ("Sigmoid", {}, [], F64),
    ("Tanh", {}, [], F64),
    ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, [-0.4 / 0.3, 0.6 / 0.3], np.float32),
    ("HardSwish", {}, [-3.0, 3.0], np.float32),
])
def test_activation_gradient(op, attributes, kinks, dtype):
    model = classifier([helper.make_node(op, ["x"], ["y"], **attributes)], "y", SHAPE,
                       dtype=dtype)
    scale = 3.0 if op == "HardSwish" else 2.0
    check_gradient(model, _x(kinks, dtype, scale), step=1e-5 if dtype == F64 else 1e-2)


@pytest.mark.parametrize("bounds", [(-0.5, 1.0), (-0.5, None), (None, 1.0), (None, None)])
def test_clip_gradient(bounds):
    low, high = bounds
    inputs = ["x", "low" if low is not None else "", "high" if high is not None else ""]
    while inputs[-1] == "":
        inputs.pop()
    initializers = [tensor(name, value, F64) for name, value in (("low", low), ("high", high))
                    if value is not None]
    model = classifier([helper.make_node("Clip", inputs, ["y"])], "y", SHAPE,
                       initializers=initializers, dtype=F64, opset=13)
    kinks = [b for b in bounds if b is not None]
    check_gradient(model, _x(kinks))


@pytest.mark.parametrize("opset,axis", [(13, -1), (13, 1), (11, 1), (11, 2)])
def test_softmax_inside_the_graph(opset, axis):
    # Before opset 13 Softmax normalises over all axes from `axis` on.
    model = classifier([helper.make_node("Softmax", ["x"], ["y"], axis=axis)], "y", SHAPE,
                       dtype=F64, opset=opset)
    check_gradient(model, _x([]))
