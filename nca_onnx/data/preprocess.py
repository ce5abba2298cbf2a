"""Turn photos into model inputs: presets for the common exporters, or explicit values."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from nca_onnx.errors import ParameterError

__all__ = ["PRESETS", "Preprocessing", "resolve_preprocessing"]

_IMAGENET_MEAN = (123.675, 116.28, 103.53)
_IMAGENET_STD = (58.395, 57.12, 57.375)
# Short side = size / 0.875 before the centre crop: 256 for a 224 input.
_CROP_FRACTION = 0.875


@dataclass(frozen=True)
class Preprocessing:
    """Pixel values 0..255 in `channel_order`, then (x - mean) / std per channel.

    `resize` is "crop" (short side to size / 0.875, centre crop, as ImageNet
    evaluations do) or "stretch" (resize straight to height x width).
    """

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    channel_order: str = "RGB"
    resize: str = "crop"
    height: int = 224
    width: int = 224

    @property
    def valid_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (low, high) of a preprocessed input: where pixels 0 and 255 land."""
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        return (0.0 - mean) / std, (255.0 - mean) / std

    def describe(self) -> dict:
        return {
            "preset": self.name,
            "mean": list(self.mean),
            "std": list(self.std),
            "channel_order": self.channel_order,
            "resize": self.resize,
            "height": self.height,
            "width": self.width,
            "pixel_scale": "0..255",
        }

    def apply(self, image: Image.Image) -> np.ndarray:
        """A float32 HWC array in channel_order, resized and normalised."""
        image = image.convert("RGB")
        if self.resize == "crop":
            image = _resize_and_crop(image, self.height, self.width)
        else:
            image = image.resize((self.width, self.height), Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32)
        if self.channel_order == "BGR":
            pixels = pixels[..., ::-1]
        return (pixels - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)


def _resize_and_crop(image: Image.Image, height: int, width: int) -> Image.Image:
    scale = max(height, width) / _CROP_FRACTION / min(image.size)
    resized = image.resize((max(width, round(image.width * scale)),
                            max(height, round(image.height * scale))),
                           Image.Resampling.BILINEAR)
    left = (resized.width - width) // 2
    top = (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


PRESETS: dict[str, Preprocessing] = {
    "imagenet": Preprocessing("imagenet", _IMAGENET_MEAN, _IMAGENET_STD),
    "inception": Preprocessing("inception", (127.5,) * 3, (127.5,) * 3),
    "caffe": Preprocessing("caffe", (103.939, 116.779, 123.68), (1.0,) * 3, "BGR"),
    "unit": Preprocessing("unit", (0.0,) * 3, (255.0,) * 3),
    "efficientnet-lite": Preprocessing("efficientnet-lite", (127.0,) * 3, (128.0,) * 3),
}


def _triple(values: list[float] | None, option: str) -> tuple[float, float, float] | None:
    if values is None:
        return None
    if len(values) == 1:
        return (values[0],) * 3
    if len(values) != 3:
        raise ParameterError(f"{option} takes 1 or 3 values, got {len(values)}")
    return tuple(values)


def resolve_preprocessing(preset: str, model_size: tuple[int, int],
                          size: tuple[int, int] | None = None,
                          mean: list[float] | None = None, std: list[float] | None = None,
                          channel_order: str | None = None,
                          resize: str | None = None) -> Preprocessing:
    """A preset, with any explicit value replacing the preset's.

    The size defaults to the model's fixed input size, else to the preset's.

    Raises:
        ParameterError: unknown preset, channel order or resize mode, a zero std,
            or a size that differs from the model's fixed input size.
    """
    if preset not in PRESETS:
        raise ParameterError(f"preset '{preset}' is not known; use one of {sorted(PRESETS)}")
    chosen = PRESETS[preset]
    height, width = size or (model_size if all(model_size) else (chosen.height, chosen.width))
    if all(model_size) and (height, width) != model_size:
        raise ParameterError(
            f"--size {height}x{width} differs from the model input {model_size[0]}x"
            f"{model_size[1]}; drop --size or pass the model's size"
        )
    order = (channel_order or chosen.channel_order).upper()
    if order not in ("RGB", "BGR"):
        raise ParameterError(f"channel order '{channel_order}' is not known; use RGB or BGR")
    mode = resize or chosen.resize
    if mode not in ("crop", "stretch"):
        raise ParameterError(f"resize mode '{resize}' is not known; use crop or stretch")
    result = replace(chosen, mean=_triple(mean, "--mean") or chosen.mean,
                     std=_triple(std, "--std") or chosen.std, channel_order=order,
                     resize=mode, height=height, width=width)
    if any(value == 0 for value in result.std):
        raise ParameterError("--std must not contain 0")
    return result
