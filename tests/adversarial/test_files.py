"""An adversarial set built for a toy model: written, read back as data, checked on reading."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import toy_models
from PIL import Image

from nca_onnx.adversarial.build import build_adversarial_set
from nca_onnx.adversarial.config import AdversarialConfig
from nca_onnx.adversarial.files import read_adversarial_set, write_adversarial_set
from nca_onnx.data.dataset import load_dataset
from nca_onnx.errors import DataError
from nca_onnx.evidence import check_seal, seal
from nca_onnx.graph.load import file_sha256, load_model

CLASSES = (0, 1)


@pytest.fixture(scope="module")
def toy_set(tmp_path_factory):
    """A conv toy model, 3 photos per class, and the adversarial set written for them."""
    folder = tmp_path_factory.mktemp("toy_adversarial")
    model_path = toy_models.save("conv", folder)
    rng = np.random.default_rng(5)
    for label in CLASSES:
        (folder / "images" / str(label)).mkdir(parents=True)
        for index in range(3):
            pixels = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / "images" / str(label) / f"{index}.png")
    config = AdversarialConfig(model_path, folder / "images", CLASSES, steps=4, preset="unit",
                               provider="cpu", batch_size=4)
    built = build_adversarial_set(config)
    arrays, manifest = write_adversarial_set(built, folder / "adv")
    return built, arrays, manifest


def test_the_set_reads_back_as_data_with_its_labels(toy_set):
    built, arrays, _ = toy_set

    dataset = load_dataset(arrays, list(CLASSES), None, "NCHW", built.model.input_shape)

    np.testing.assert_array_equal(dataset.inputs, built.fgsm.adversarial)
    np.testing.assert_array_equal(dataset.labels, built.dataset.labels)


def test_the_manifest_records_every_image_and_the_counts(toy_set):
    built, arrays, manifest_path = toy_set
    manifest = json.loads(manifest_path.read_text())
    dataset = load_dataset(arrays, list(CLASSES), None, "NCHW", built.model.input_shape)

    check_seal(manifest, "manifest")
    assert manifest["model"]["sha256"] == built.model.sha256
    assert manifest["file"]["sha256"] == file_sha256(arrays)
    assert manifest["counts"]["images"] == 6
    assert manifest["counts"]["flipped"] + manifest["counts"]["not_flipped"] == 6
    assert [entry["class"] for entry in manifest["classes"]] == list(CLASSES)
    for entry, record, steps in zip(manifest["images"], dataset.records,
                                    built.fgsm.steps_taken):
        assert entry["sha256"] == record.sha256
        assert entry["steps_taken"] == steps
        assert entry["linf_distance"] <= 4 * manifest["parameters"]["eps"] + 1e-6
    assert manifest["parameters"]["eps"] == pytest.approx(1 / 255)
    assert manifest["parameters"]["clip"]["low"] == [0.0, 0.0, 0.0]


def test_inputs_stay_inside_the_range_of_the_preprocessing(toy_set):
    built, _, _ = toy_set

    assert built.fgsm.adversarial.min() >= 0.0 and built.fgsm.adversarial.max() <= 1.0
    assert built.fgsm.steps_taken.max() > 0


def test_a_set_read_with_its_manifest_has_no_warning(toy_set):
    built, arrays, _ = toy_set

    found = read_adversarial_set(arrays.parent, list(CLASSES), built.model)

    assert found.warnings == ()
    assert found.provenance["model_sha256"] == built.model.sha256
    assert found.provenance["images"] == 6


def _copy(toy_set, tmp_path):
    _, arrays, _ = toy_set
    target = tmp_path / "copy"
    shutil.copytree(arrays.parent, target)
    return target


def test_a_set_without_manifest_is_read_with_a_warning(toy_set, tmp_path):
    folder = _copy(toy_set, tmp_path)
    (folder / "manifest.json").unlink()

    found = read_adversarial_set(folder, list(CLASSES), toy_set[0].model)

    assert len(found.warnings) == 1 and "has no manifest.json" in found.warnings[0]
    assert found.provenance["manifest"] is None and found.provenance["eps"] is None


def test_a_set_built_for_another_model_is_read_with_a_warning(toy_set, tmp_path):
    folder = _copy(toy_set, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["model"]["sha256"] = "f" * 64
    (folder / "manifest.json").write_text(json.dumps(seal(manifest)))

    found = read_adversarial_set(folder, list(CLASSES), toy_set[0].model)

    assert len(found.warnings) == 1 and "built for another model" in found.warnings[0]


def test_a_changed_file_is_read_with_a_warning(toy_set, tmp_path):
    folder = _copy(toy_set, tmp_path)
    with np.load(folder / "adversarial.npz") as archive:
        inputs, labels = archive["inputs"], archive["labels"]
    np.savez(folder / "adversarial.npz", inputs=inputs * 0.5, labels=labels)

    found = read_adversarial_set(folder, list(CLASSES), toy_set[0].model)

    assert any("changed or replaced" in warning for warning in found.warnings)


def test_a_class_missing_from_the_set_is_refused(toy_set, tmp_path):
    folder = _copy(toy_set, tmp_path)
    with np.load(folder / "adversarial.npz") as archive:
        inputs = archive["inputs"]
    np.savez(folder / "adversarial.npz", inputs=inputs, labels=np.zeros(len(inputs), np.int64))

    with pytest.raises(DataError, match=r"holds no input of class\(es\) \[1\]"):
        read_adversarial_set(folder, list(CLASSES), toy_set[0].model)


def test_a_set_of_another_shape_is_refused(toy_set, tmp_path):
    folder = _copy(toy_set, tmp_path)
    np.savez(folder / "adversarial.npz", inputs=np.zeros((2, 3, 4, 4), np.float32),
             labels=np.array([0, 1]))

    with pytest.raises(DataError, match="per item but the model expects"):
        read_adversarial_set(folder, list(CLASSES), toy_set[0].model)


def test_a_missing_set_names_the_command_that_builds_one(toy_set, tmp_path):
    with pytest.raises(DataError, match="nca-onnx adversarial"):
        read_adversarial_set(tmp_path / "nowhere", list(CLASSES), load_model(
            toy_set[0].model.path))
