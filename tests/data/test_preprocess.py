"""Preprocessing presets and explicit values produce the inputs exporters expect."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from nca_onnx.data.preprocess import PRESETS, resolve_preprocessing
from nca_onnx.errors import ParameterError


def _flat_image(value: tuple[int, int, int], size=(300, 200)) -> Image.Image:
    return Image.new("RGB", size, value)


@pytest.mark.parametrize("preset, expected", [
    ("efficientnet-lite", [(200 - 127) / 128, (100 - 127) / 128, (0 - 127) / 128]),
    ("inception", [200 / 127.5 - 1, 100 / 127.5 - 1, -1.0]),
    ("unit", [200 / 255, 100 / 255, 0.0]),
    ("imagenet", [(200 - 123.675) / 58.395, (100 - 116.28) / 57.12, (0 - 103.53) / 57.375]),
    ("caffe", [0 - 103.939, 100 - 116.779, 200 - 123.68]),
])
def test_presets_normalise_each_channel(preset, expected):
    pixels = PRESETS[preset].apply(_flat_image((200, 100, 0)))

    assert pixels.shape == (224, 224, 3)
    assert np.allclose(pixels[0, 0], expected, atol=1e-5)


def test_crop_resizes_the_short_side_then_takes_the_centre():
    image = Image.new("RGB", (512, 256), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 128, 256))   # a white band on the far left

    pixels = PRESETS["unit"].apply(image)

    # Short side 256 -> 256, centre crop 224 of 512 wide drops the band entirely.
    assert pixels.max() == 0.0


def test_explicit_values_replace_the_preset():
    chosen = resolve_preprocessing("imagenet", (48, 192), mean=[127.5], std=[127.5],
                                   channel_order="bgr", resize="stretch")

    assert (chosen.height, chosen.width, chosen.channel_order) == (48, 192, "BGR")
    assert chosen.mean == (127.5,) * 3
    assert chosen.apply(_flat_image((255, 0, 0))).shape == (48, 192, 3)
    assert np.allclose(chosen.apply(_flat_image((255, 0, 0)))[0, 0], [-1, -1, 1])


def test_valid_range_is_where_pixels_zero_and_255_land():
    low, high = PRESETS["efficientnet-lite"].valid_range

    assert np.allclose(low, -127 / 128) and np.allclose(high, 1.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"preset": "vgg"}, "preset 'vgg' is not known"),
    ({"size": (100, 100), "model_size": (224, 224)}, "differs from the model input"),
    ({"std": [1.0, 0.0, 1.0]}, "must not contain 0"),
    ({"mean": [1.0, 2.0]}, "takes 1 or 3 values"),
    ({"channel_order": "GBR"}, "channel order 'GBR'"),
])
def test_bad_values_are_refused(kwargs, message):
    arguments = {"preset": "imagenet", "model_size": (0, 0), **kwargs}

    with pytest.raises(ParameterError, match=message):
        resolve_preprocessing(**arguments)
