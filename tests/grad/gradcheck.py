"""Small classifiers built around one operator, and a finite-difference gradient check."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from nca_onnx.grad import build_gradient_model

CLASSES = 3
INPUT = "x"


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def classifier(
    body: Sequence[onnx.NodeProto],
    body_output: str,
    x_shape: Sequence[int],
    *,
    initializers: Sequence[onnx.TensorProto] = (),
    opset: int = 17,
    dtype: type = np.float32,
    input_dims: Sequence[int | str] | None = None,
    seed: int = 0,
) -> onnx.ModelProto:
    """A model x -> body -> Flatten -> MatMul(random weights) -> logits [N, CLASSES].

    `input_dims` declares the input shape (symbols for dynamic dimensions); by default the
    batch is symbolic and the other dimensions are those of `x_shape`.
    """
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    dims = list(input_dims) if input_dims is not None else ["N", *x_shape[1:]]
    x_info = helper.make_tensor_value_info(INPUT, elem, dims)
    opsets = [helper.make_operatorsetid("", opset)]

    probe = helper.make_model(
        helper.make_graph(list(body), "probe", [x_info],
                          [helper.make_tensor_value_info(body_output, elem, None)],
                          list(initializers)), opset_imports=opsets)
    sample = np.zeros(x_shape, dtype=dtype)
    features = _session(probe).run(None, {INPUT: sample})[0]
    width = int(np.prod(features.shape[1:]))

    rng = np.random.default_rng(seed)
    head_weight = numpy_helper.from_array(
        (rng.standard_normal((width, CLASSES)) / np.sqrt(width)).astype(dtype), "head_w")
    nodes = [*body,
             helper.make_node("Flatten", [body_output], ["features"], axis=1, name="flatten"),
             helper.make_node("MatMul", ["features", "head_w"], ["logits"], name="head")]
    graph = helper.make_graph(nodes, "classifier", [x_info],
                              [helper.make_tensor_value_info("logits", elem, [dims[0], CLASSES])],
                              [*initializers, head_weight])
    model = helper.make_model(graph, opset_imports=opsets)
    onnx.checker.check_model(model)
    return model


def tensor(name: str, value: np.ndarray | Sequence, dtype: type = np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def finite_difference(session: ort.InferenceSession, x: np.ndarray, labels: np.ndarray,
                      step: float) -> np.ndarray:
    """Central differences of sum(loss) with respect to every element of x."""
    flat = x.reshape(-1)
    result = np.zeros(flat.size)
    for i in range(flat.size):
        values = []
        for sign in (1.0, -1.0):
            moved = flat.copy()
            moved[i] += sign * step
            loss = session.run(["loss"], {INPUT: moved.reshape(x.shape), "label": labels})[0]
            values.append(float(np.sum(loss.astype(np.float64))))
        result[i] = (values[0] - values[1]) / (2 * step)
    return result.reshape(x.shape)


def check_gradient(
    model: onnx.ModelProto,
    x: np.ndarray,
    *,
    step: float | None = None,
    tolerance: float | None = None,
    output_name: str = "logits",
    output_is_probability: bool = False,
    labels: np.ndarray | None = None,
) -> onnx.ModelProto:
    """Assert that input_grad of the gradient model matches central finite differences.

    The error is measured against the largest finite-difference component, so that
    near-zero components do not dominate. Returns the gradient model.
    """
    is_double = x.dtype == np.float64
    step = step if step is not None else (1e-5 if is_double else 1e-2)
    tolerance = tolerance if tolerance is not None else (1e-6 if is_double else 2e-3)
    if labels is None:
        labels = np.arange(x.shape[0], dtype=np.int64) % CLASSES
    gradient_model = build_gradient_model(model, INPUT, output_name, output_is_probability)
    session = _session(gradient_model)
    loss, probabilities, analytic = session.run(None, {INPUT: x, "label": labels})
    assert analytic.shape == x.shape and analytic.dtype == x.dtype
    assert loss.shape == (x.shape[0],)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    numeric = finite_difference(session, x, labels, step)
    scale = max(float(np.abs(numeric).max()), 1e-12)
    error = float(np.abs(analytic - numeric).max()) / scale
    assert error < tolerance, f"relative gradient error {error:.2e} >= {tolerance:.0e}"
    return gradient_model


def away_from(values: np.ndarray, points: Sequence[float], margin: float) -> np.ndarray:
    """Move values that lie within `margin` of a kink to `margin` away from it."""
    result = values.copy()
    for point in points:
        near = np.abs(result - point) < margin
        result[near] = point + np.where(result[near] >= point, margin, -margin)
    return result


def distinct_values(shape: Sequence[int], rng: np.random.Generator, spacing: float = 0.05,
                    dtype: type = np.float32) -> np.ndarray:
    """Values spaced `spacing` apart in random order: max pooling has no near-ties."""
    count = int(np.prod(shape))
    values = (rng.permutation(count) - count / 2) * spacing
    return values.reshape(shape).astype(dtype)
