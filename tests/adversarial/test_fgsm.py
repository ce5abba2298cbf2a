"""Iterative FGSM: stopping rule, step budget, clipping, errors, and a real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from nca_onnx.adversarial import NonFiniteGradientError, run_fgsm
from nca_onnx.errors import DataError, ParameterError
from nca_onnx.grad import build_gradient_model

MODELS = Path(__file__).resolve().parents[2] / "models"
# A linear classifier over 4 features: class k scores x . W[:, k].
WEIGHTS = np.array([[2.0, -1.0, 0.0], [0.5, 1.5, -1.0], [-1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])


def _linear_model(extra_nodes=(), source: str = "x") -> onnx.ModelProto:
    nodes = [*extra_nodes, helper.make_node("MatMul", [source, "w"], ["logits"])]
    graph = helper.make_graph(
        nodes, "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(WEIGHTS.astype(np.float32), "w"),
         numpy_helper.from_array(np.ones(4, np.float32), "one")])
    return helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 17)])


@pytest.fixture(scope="module")
def gradient_model() -> onnx.ModelProto:
    return build_gradient_model(_linear_model(), "x", "logits", False)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _reference(x, labels, eps, steps, target, low, high):
    """The method written out plainly for the linear model, one image at a time."""
    x = x.astype(np.float64).copy()
    taken = np.zeros(len(x), dtype=int)
    for i, label in enumerate(labels):
        for step in range(steps + 1):
            p = _softmax(x[i] @ WEIGHTS)
            if np.delete(p, label).max() > target or step == steps:
                break
            grad = WEIGHTS @ (p - np.eye(3)[label])  # d(-log p[label]) / dx
            x[i] = np.clip(x[i] + eps * np.sign(grad), low, high)
            taken[i] += 1
    return x, taken


def test_matches_the_method_step_by_step(gradient_model):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (6, 4)).astype(np.float32)
    labels = (x.astype(np.float64) @ WEIGHTS).argmax(axis=1)
    result = run_fgsm(gradient_model, x, labels, eps=0.1, steps=20, clip_low=-2.0,
                      clip_high=2.0)
    expected, taken = _reference(x, labels, 0.1, 20, 0.5, -2.0, 2.0)
    np.testing.assert_allclose(result.adversarial, expected, atol=1e-5)
    np.testing.assert_array_equal(result.steps_taken, taken)
    probabilities = _softmax(result.adversarial.astype(np.float64) @ WEIGHTS)
    np.testing.assert_allclose(result.true_class_confidence,
                               probabilities[np.arange(6), labels], atol=1e-5)
    np.testing.assert_array_equal(result.final_class, probabilities.argmax(axis=1))
    np.testing.assert_allclose(result.final_confidence, probabilities.max(axis=1), atol=1e-5)
    assert result.flipped.all() and (result.final_class != labels).all()
    np.testing.assert_allclose(result.linf_distance,
                               np.abs(result.adversarial - x).max(axis=1), atol=1e-6)
    assert np.all(x == x.astype(np.float32))  # the inputs were not modified


def test_image_already_flipped_takes_no_step(gradient_model):
    x = np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32)  # class 0 wins clearly
    result = run_fgsm(gradient_model, x, np.array([2]), eps=0.1, clip_low=-5, clip_high=5)
    assert result.steps_taken[0] == 0 and result.flipped[0]
    np.testing.assert_array_equal(result.adversarial, x)
    assert result.linf_distance[0] == 0.0


def test_image_not_flipped_within_the_budget_is_kept_and_counted(gradient_model):
    x = np.array([[3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]], dtype=np.float32)
    result = run_fgsm(gradient_model, x, np.array([0, 2]), eps=0.01, steps=3, clip_low=-5,
                      clip_high=5)
    np.testing.assert_array_equal(result.steps_taken, [3, 3])
    assert not result.flipped.any() and result.flipped_count == 0
    np.testing.assert_allclose(result.linf_distance, 0.03, rtol=1e-5)
    np.testing.assert_array_equal(result.final_class, [0, 2])


def test_per_channel_clip_bounds_hold():
    # A convolutional model with 2 channels and different valid ranges per channel.
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c"], ["f"]),
             helper.make_node("MatMul", ["f", "head"], ["logits"])]
    graph = helper.make_graph(
        nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), "w"),
         numpy_helper.from_array(rng.standard_normal((48, 3)).astype(np.float32), "head")])
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 17)])
    session = ort.InferenceSession(build_gradient_model(model, "x", "logits", False)
                                   .SerializeToString(), providers=["CPUExecutionProvider"])
    low = np.array([0.0, -0.2]).reshape(1, 2, 1, 1)
    high = np.array([0.3, 0.1]).reshape(1, 2, 1, 1)
    x = rng.uniform(0.0, 0.1, (3, 2, 4, 4)).astype(np.float32)
    result = run_fgsm(session, x, np.zeros(3, np.int64), eps=0.05, steps=10, clip_low=low,
                      clip_high=high)
    assert np.all(result.adversarial >= low - 1e-7) and np.all(result.adversarial <= high + 1e-7)
    assert result.steps_taken.max() > 0


def test_batches_do_not_change_the_result(gradient_model):
    x = np.random.default_rng(2).uniform(-1, 1, (5, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1])
    whole = run_fgsm(gradient_model, x, labels, eps=0.05, clip_low=-1, clip_high=1)
    pieces = run_fgsm(gradient_model, x, labels, eps=0.05, clip_low=-1, clip_high=1,
                      batch_size=2)
    np.testing.assert_array_equal(whole.adversarial, pieces.adversarial)
    np.testing.assert_array_equal(whole.steps_taken, pieces.steps_taken)


def test_non_finite_gradient_names_the_images():
    # logits = (1 / x) @ W: the gradient at x = 0 is infinite.
    model = _linear_model([helper.make_node("Div", ["one", "x"], ["inv"])], source="inv")
    gradient_model = build_gradient_model(model, "x", "logits", False)
    x = np.full((3, 4), 0.5, dtype=np.float32)
    x[1, 2] = 0.0
    with pytest.raises(NonFiniteGradientError, match=r"images \[1\] at FGSM step 0"):
        run_fgsm(gradient_model, x, np.array([0, 0, 0]), eps=0.1, clip_low=-1, clip_high=1)


@pytest.mark.parametrize("kwargs,message", [
    ({"eps": 0.0}, r"eps must be a positive number"),
    ({"steps": -1}, r"steps must be a non-negative integer"),
    ({"target_confidence": 1.5}, r"target_confidence must lie in \[0, 1\)"),
    ({"labels": np.array([0])}, r"labels must be integers of shape \(2,\)"),
    ({"labels": np.array([0, 3])}, r"labels must lie in \[0, 3\)"),
    ({"clip_low": np.zeros(3)}, r"must broadcast to the inputs \(2, 4\)"),
    ({"clip_low": 2.0}, r"clip_low exceeds clip_high"),
    ({"batch_size": 0}, r"batch_size must be at least 1"),
])
def test_invalid_parameters_are_refused(gradient_model, kwargs, message):
    arguments = {"inputs": np.zeros((2, 4), np.float32), "labels": np.array([0, 1]),
                 "eps": 0.1, "clip_low": -1.0, "clip_high": 1.0, **kwargs}
    with pytest.raises(ParameterError, match=message):
        run_fgsm(gradient_model, **arguments)


def test_non_finite_inputs_are_refused(gradient_model):
    x = np.zeros((2, 4), np.float32)
    x[1, 0] = np.nan
    with pytest.raises(DataError, match=r"images \[1\] hold NaN"):
        run_fgsm(gradient_model, x, np.array([0, 1]), eps=0.1, clip_low=-1, clip_high=1)


def test_a_forward_model_is_not_a_gradient_model():
    with pytest.raises(ParameterError, match=r"not a gradient model"):
        run_fgsm(_linear_model(), np.zeros((1, 4), np.float32), np.array([0]), eps=0.1,
                 clip_low=-1, clip_high=1)


def test_real_model_confidences_match_a_plain_forward_pass():
    path = MODELS / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
    model = onnx.load(str(path))
    output = "save_infer_model/scale_0.tmp_1"
    gradient_model = build_gradient_model(model, "x", output, True)
    x = np.random.default_rng(3).uniform(-1, 1, (3, 3, 48, 192)).astype(np.float32)
    forward = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    labels = forward.run(None, {"x": x})[0].argmax(axis=1)
    result = run_fgsm(gradient_model, x, labels, eps=0.02, steps=10, clip_low=-1.0,
                      clip_high=1.0, providers=["CPUExecutionProvider"])
    after = forward.run(None, {"x": result.adversarial})[0]
    np.testing.assert_allclose(result.true_class_confidence, after[np.arange(3), labels],
                               atol=1e-4)
    assert result.flipped.any()
    assert np.all(result.linf_distance <= 0.02 * result.steps_taken + 1e-6)
