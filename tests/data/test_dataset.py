"""Folders of photos and numpy files become labelled, hashed model inputs."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from conftest import DEMO_IMAGES

from nca_onnx.data.dataset import load_dataset
from nca_onnx.data.preprocess import PRESETS
from nca_onnx.errors import DataError

LITE = PRESETS["efficientnet-lite"]
NCHW = ("N", 3, 224, 224)


def test_class_subfolders_give_the_labels():
    dataset = load_dataset(DEMO_IMAGES, [967, 872], LITE, "NCHW", NCHW)

    assert dataset.inputs.shape[1:] == (3, 224, 224)
    assert set(dataset.labels) == {967, 872}
    first = dataset.records[0]
    assert first.id.startswith("967/")
    assert first.sha256 == hashlib.sha256(open(first.path, "rb").read()).hexdigest()


def test_a_flat_folder_belongs_to_the_single_class(tmp_path):
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes((DEMO_IMAGES / "967" / "coffee.jpg").read_bytes())

    dataset = load_dataset(tmp_path, [5], LITE, "NHWC", ("N", 224, 224, 3))

    assert list(dataset.labels) == [5, 5]
    assert dataset.inputs.shape == (2, 224, 224, 3)


def test_npz_arrays_are_used_as_stored_with_their_labels(tmp_path):
    inputs = np.random.default_rng(0).normal(size=(4, 3, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "set.npz", inputs=inputs, labels=np.array([1, 2, 1, 3]))

    dataset = load_dataset(tmp_path / "set.npz", [1, 3], LITE, "NCHW", ("N", 3, 8, 8))

    assert [r.id for r in dataset.records] == ["set.npz#0", "set.npz#2", "set.npz#3"]
    assert np.array_equal(dataset.inputs, inputs[[0, 2, 3]])


def test_a_flat_folder_cannot_hold_several_classes(tmp_path):
    (tmp_path / "a.jpg").write_bytes((DEMO_IMAGES / "967" / "coffee.jpg").read_bytes())

    with pytest.raises(DataError, match="subfolder named by its index"):
        load_dataset(tmp_path, [1, 2], LITE, "NCHW", NCHW)


def test_an_empty_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="holds no .jpg or .png images"):
        load_dataset(tmp_path, [1], LITE, "NCHW", NCHW)


def test_an_image_that_does_not_decode_is_named(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")

    with pytest.raises(DataError, match="broken.jpg' does not decode"):
        load_dataset(tmp_path, [1], LITE, "NCHW", NCHW)


def test_arrays_of_another_layout_are_refused(tmp_path):
    np.save(tmp_path / "nhwc.npy", np.zeros((2, 224, 224, 3), dtype=np.float32))

    with pytest.raises(DataError, match="model expects"):
        load_dataset(tmp_path / "nhwc.npy", [1], LITE, "NCHW", NCHW)


def test_a_missing_class_folder_is_named():
    with pytest.raises(DataError, match="none for class 1"):
        load_dataset(DEMO_IMAGES, [967, 1], LITE, "NCHW", NCHW)
