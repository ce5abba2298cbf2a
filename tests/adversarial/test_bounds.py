"""The clip range of FGSM: the preprocessing's valid range per channel, in the model layout."""

from __future__ import annotations

import numpy as np
import pytest

from nca_onnx.adversarial.bounds import check_inside, clip_bounds
from nca_onnx.adversarial.config import default_eps
from nca_onnx.data.preprocess import PRESETS
from nca_onnx.errors import DataError, ParameterError


@pytest.mark.parametrize("layout, shape", [("NCHW", (1, 3, 1, 1)), ("NHWC", (1, 1, 1, 3))])
def test_the_preprocessing_range_is_arranged_for_the_layout(layout, shape):
    imagenet = PRESETS["imagenet"]

    bounds = clip_bounds(imagenet, layout, 3, None, None)

    assert bounds.low.shape == shape and bounds.high.shape == shape
    expected_low, expected_high = imagenet.valid_range
    np.testing.assert_allclose(bounds.low.reshape(-1), expected_low, rtol=1e-6)
    np.testing.assert_allclose(bounds.high.reshape(-1), expected_high, rtol=1e-6)
    assert "imagenet" in bounds.source


def test_array_inputs_need_explicit_bounds():
    with pytest.raises(ParameterError, match="pass --clip-low and --clip-high"):
        clip_bounds(None, "NCHW", 3, None, None)


def test_explicit_bounds_replace_the_preprocessing_range():
    bounds = clip_bounds(PRESETS["imagenet"], "NCHW", 3, (-1.0,), (1.0, 2.0, 3.0))

    assert bounds.per_channel_low == (-1.0, -1.0, -1.0)
    assert bounds.per_channel_high == (1.0, 2.0, 3.0)
    assert bounds.source == "--clip-low/--clip-high"


def test_explicit_bounds_take_one_value_or_one_per_channel():
    with pytest.raises(ParameterError, match="--clip-high takes 1 value or 3"):
        clip_bounds(None, "NCHW", 3, (0.0,), (1.0, 1.0))


def test_an_empty_range_is_refused():
    with pytest.raises(ParameterError, match="the clip range is empty"):
        clip_bounds(None, "NCHW", 3, (1.0,), (1.0,))


def test_inputs_outside_the_range_are_named():
    bounds = clip_bounds(None, "NCHW", 3, (0.0,), (1.0,))
    inputs = np.full((3, 3, 2, 2), 0.5, dtype=np.float32)
    inputs[1, 2, 0, 0] = 1.5

    with pytest.raises(DataError, match=r"inputs \[1\] lie outside the clip range"):
        check_inside(inputs, bounds)


@pytest.mark.parametrize("preset, eps", [("efficientnet-lite", 1 / 128), ("unit", 1 / 255),
                                         ("imagenet", 1 / 58.395)])
def test_the_default_step_is_one_grey_level_of_the_narrowest_channel(preset, eps):
    bounds = clip_bounds(PRESETS[preset], "NCHW", 3, None, None)

    assert default_eps(bounds.low, bounds.high) == pytest.approx(eps, rel=1e-6)
