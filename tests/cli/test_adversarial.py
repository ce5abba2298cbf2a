"""`nca-onnx adversarial` on EfficientNet and photos, its files, and its errors on bad input."""

from __future__ import annotations

import inspect
import json

import numpy as np
import onnx
import pytest
from cli_runner import run_cli
from conftest import DEMO_IMAGES, EFFICIENTNET
from onnx import TensorProto, helper, numpy_helper

from nca_onnx.data.dataset import load_dataset
from nca_onnx.graph.load import file_sha256

LITE = ("--preset", "efficientnet-lite")
STEPS = 3


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """Three photos of class 872 attacked for at most STEPS steps."""
    out = tmp_path_factory.mktemp("adversarial")
    result = run_cli("adversarial", EFFICIENTNET, "--class", "872", "--data", DEMO_IMAGES / "872",
                     *LITE, "--steps", STEPS, "--provider", "cpu", "--out", out)
    return result, out


def _assert_one_line_error(result, message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_writes_inputs_labels_and_a_manifest_per_image(attacked):
    result, out = attacked
    manifest = json.loads((out / "manifest.json").read_text())

    assert result.returncode == 0, result.stderr
    with np.load(out / "adversarial.npz") as archive:
        assert archive["inputs"].shape == (3, 3, 224, 224)
        assert archive["inputs"].dtype == np.float32
        assert archive["labels"].tolist() == [872, 872, 872]
    assert manifest["model"]["sha256"] == file_sha256(EFFICIENTNET)
    assert manifest["file"]["sha256"] == file_sha256(out / "adversarial.npz")
    assert manifest["parameters"]["eps"] == 1 / 128 and manifest["parameters"]["steps"] == STEPS
    counts = manifest["counts"]
    assert counts["images"] == 3 and counts["flipped"] + counts["not_flipped"] == 3
    for image in manifest["images"]:
        assert {"steps_taken", "flipped", "final_class", "final_confidence",
                "linf_distance"} <= image.keys()
        assert image["steps_taken"] <= STEPS
        assert image["linf_distance"] <= image["steps_taken"] / 128 + 1e-6
        assert image["flipped"] == (image["final_class"] != 872
                                    and image["final_confidence"] > 0.5)
    assert "flipped" in result.stdout and "images" in result.stderr  # summary and progress


def test_the_inputs_stay_in_the_range_of_the_preprocessing(attacked):
    _, out = attacked
    with np.load(out / "adversarial.npz") as archive:
        inputs = archive["inputs"]

    assert inputs.min() >= -127 / 128 and inputs.max() <= 128 / 128


def test_the_set_is_readable_as_data(attacked):
    _, out = attacked

    dataset = load_dataset(out / "adversarial.npz", [872], None, "NCHW",
                           ("nca_batch", 3, 224, 224))

    assert len(dataset.records) == 3


def test_the_command_line_defaults_are_the_library_defaults():
    from nca_onnx.adversarial.config import AdversarialConfig
    from nca_onnx.cli.adversarial_cmd import adversarial

    command = inspect.signature(adversarial).parameters
    library = inspect.signature(AdversarialConfig).parameters
    for name in ("eps", "steps", "target_confidence", "batch_size", "preset", "provider"):
        assert command[name].default == library[name].default, name


def _save_npz(path, count=2, shape=(3, 8, 8), zero_in=None):
    inputs = np.full((count, *shape), 0.5, dtype=np.float32)
    if zero_in is not None:
        inputs[zero_in, 0, 0, 0] = 0.0
    np.savez(path, inputs=inputs, labels=np.zeros(count, np.int64))
    return path


def _toy_model(path, first_nodes):
    """input [N, 3, 8, 8] -> first_nodes -> Conv -> GlobalAveragePool -> Flatten -> Gemm."""
    rng = np.random.default_rng(0)
    source = first_nodes[-1].output[0] if first_nodes else "input"
    nodes = [*first_nodes,
             helper.make_node("Conv", [source, "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
             helper.make_node("GlobalAveragePool", ["c"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc"], ["logits"], transB=1, name="fc")]
    graph = helper.make_graph(
        nodes, "toy", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])],
        [numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w"),
         numpy_helper.from_array(rng.normal(size=(5, 4)).astype(np.float32), "fc"),
         numpy_helper.from_array(np.ones((1,), np.float32), "one")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    return path


CLIP = ("--clip-low", "-1", "--clip-high", "1")


def test_array_inputs_without_a_clip_range_are_refused(tmp_path):
    model = _toy_model(tmp_path / "toy.onnx", [])
    data = _save_npz(tmp_path / "inputs.npz")

    result = run_cli("adversarial", model, "--class", "0", "--data", data, "--out", tmp_path)

    _assert_one_line_error(result, "pass --clip-low and --clip-high")


def test_inputs_of_another_shape_than_the_model_input_are_refused(tmp_path):
    model = _toy_model(tmp_path / "toy.onnx", [])
    data = _save_npz(tmp_path / "inputs.npz", shape=(3, 16, 16))

    result = run_cli("adversarial", model, "--class", "0", "--data", data, *CLIP)

    _assert_one_line_error(result, "have shape [3, 16, 16] per item but the model expects")


def test_an_operator_without_a_gradient_rule_is_named(tmp_path):
    exp = helper.make_node("Exp", ["input"], ["e"], name="exp")
    model = _toy_model(tmp_path / "toy.onnx", [exp])
    data = _save_npz(tmp_path / "inputs.npz")

    result = run_cli("adversarial", model, "--class", "0", "--data", data, *CLIP)

    _assert_one_line_error(result, "no gradient rule for operator Exp (node 'exp')")


def test_an_infinite_gradient_names_the_images(tmp_path):
    # 1 / x: at x = 0 the scores and their gradient are not finite.
    reciprocal = helper.make_node("Div", ["one", "input"], ["r"], name="reciprocal")
    model = _toy_model(tmp_path / "toy.onnx", [reciprocal])
    data = _save_npz(tmp_path / "inputs.npz", count=3, zero_in=1)

    result = run_cli("adversarial", model, "--class", "0", "--data", data, *CLIP)

    _assert_one_line_error(result, "gradient is NaN or infinite for images [1] at FGSM step 0")


@pytest.mark.parametrize("arguments, message", [
    (("--class", "1000"), "class 1000 is out of range"),
    (("--class", "872", "--clip-low", "0"), "pass --clip-low and --clip-high together"),
    (("--class", "872", "--eps", "-1"), "--eps must be a positive number"),
    (("--class", "872", "--steps", "0"), "--steps must be at least 1"),
])
def test_bad_parameters_print_one_line(tmp_path, arguments, message):
    result = run_cli("adversarial", EFFICIENTNET, *arguments, "--data", DEMO_IMAGES / "872",
                     *LITE, "--out", tmp_path)

    _assert_one_line_error(result, message)
