"""Verification of a report: each kind of change is caught and named, and nothing else."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from evidence_runs import demo_run, flip_bit_at, model_with_flipped_filter

from nca_onnx.analysis.config import AnalysisConfig
from nca_onnx.cli.analyze import run_and_write
from nca_onnx.data.dataset import load_dataset
from nca_onnx.data.preprocess import resolve_preprocessing
from nca_onnx.errors import EvidenceError, ParameterError
from nca_onnx.evidence import seal
from nca_onnx.evidence.recompute import sample_neurons
from nca_onnx.evidence.verification import verify_report

SAMPLE = 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


def _verify(run, report, model=None, data=None, **options):
    return verify_report(report, "report.json", model or run.model, data or run.data,
                         sample=options.pop("sample", SAMPLE), **options)


def _failed(outcome) -> list[tuple[str, str]]:
    return [(finding.check, finding.subject) for finding in outcome.failures]


def test_an_untouched_report_verifies(run):
    outcome = _verify(run, run.report())

    assert outcome.passed, outcome.failures
    assert [f.check for f in outcome.findings][:7] == [
        "digest", "schema", "model", "image", "layer", "preprocessing", "selection"]
    neurons = [f for f in outcome.findings if f.check == "neuron"]
    assert len(neurons) == 2 * 2  # two classes' top neurons, each compared for both classes
    assert outcome.largest_deviation < 1e-5


def test_a_report_of_schema_1_0_0_still_verifies(run):
    report = run.report()
    report["schema"]["version"] = "1.0.0"

    outcome = _verify(run, seal(report), sample=1)

    assert outcome.passed, outcome.failures
    assert outcome.findings[1].subject == "nca-onnx/report 1.0.0"


def test_a_changed_report_fails_on_its_digest(run):
    report = run.report()
    report["results"][0]["neurons"][5]["mean"] += 1e-3

    outcome = _verify(run, report)

    assert _failed(outcome) == [("digest", "report.json")]
    assert len(outcome.findings) == 1


def test_a_resealed_report_with_a_changed_neuron_fails_on_that_neuron(run):
    report = run.report()
    top = min(report["results"][0]["neurons"], key=lambda row: row["rank"])
    top["mean"] += 1e-3

    outcome = _verify(run, seal(report), sample=1)

    subject = f"{top['layer']}[{top['index']}] class {report['results'][0]['class']}"
    assert _failed(outcome) == [("neuron", subject)]
    failure = outcome.failures[0]
    assert "mean" in failure.detail and failure.deviation == pytest.approx(1e-3, rel=1e-3)


def test_a_changed_model_byte_fails_on_the_model(run, tmp_path):
    model = model_with_flipped_filter(run.model, "/_conv_head/Conv", 5, tmp_path / "m.onnx")

    outcome = _verify(run, run.report(), model=model)

    assert _failed(outcome) == [("model", str(model))]
    assert "differs from the recorded" in outcome.failures[0].detail
    assert not any(f.check == "neuron" for f in outcome.findings)


def test_a_changed_image_fails_naming_that_image(run, tmp_path):
    data = shutil.copytree(run.data, tmp_path / "images")
    image = data / "872" / "camera.jpg"
    image.write_bytes(flip_bit_at(image.read_bytes(), 4000))

    outcome = _verify(run, run.report(), data=data)

    assert _failed(outcome) == [("image", "872/camera.jpg")]


def test_a_missing_image_is_named(run, tmp_path):
    data = shutil.copytree(run.data, tmp_path / "images")
    (data / "967" / "coffee_top90.jpg").unlink()

    outcome = _verify(run, run.report(), data=data)

    assert _failed(outcome) == [("image", "967/coffee_top90.jpg")]
    assert "missing" in outcome.failures[0].detail


def test_a_changed_parameter_shows_in_the_recomputed_selection(run):
    report = run.report()
    report["parameters"]["min_confidence"] = 0.99

    outcome = _verify(run, seal(report))

    assert {check for check, _ in _failed(outcome)} == {"selection"}


def test_a_report_of_an_unknown_schema_version_is_bad_input(run):
    report = run.report()
    report["schema"]["version"] = "0.0.1"

    with pytest.raises(EvidenceError, match="unknown"):
        _verify(run, seal(report))


def test_the_sample_is_seeded_and_starts_with_the_top_neurons(run):
    report = run.report()

    first = sample_neurons(report, 8, seed=4)

    assert first == sample_neurons(report, 8, seed=4)
    assert first != sample_neurons(report, 8, seed=5)
    assert first[:2] == [("/_fc/Gemm", 967), ("/_fc/Gemm", 872)]
    assert len(set(first)) == 8


def test_the_sample_needs_at_least_one_neuron(run):
    with pytest.raises(ParameterError, match="--sample must be at least 1"):
        sample_neurons(run.report(), 0, seed=0)


def test_array_inputs_are_matched_by_row_and_a_changed_row_is_named(run, tmp_path):
    preprocessing = resolve_preprocessing("efficientnet-lite", (224, 224))
    images = load_dataset(run.data, [967], preprocessing, "NCHW", ("N", 3, 224, 224))
    arrays = tmp_path / "inputs.npz"
    np.savez(arrays, inputs=images.inputs, labels=images.labels)
    config = AnalysisConfig(model=run.model, data=arrays, classes=(967,),
                            layers=("/_fc/Gemm",), crosscheck_neurons=1)
    run_and_write(config, tmp_path / "out", quiet=True)
    report = (tmp_path / "out" / "report.json").read_text()
    renamed = tmp_path / "renamed.npz"
    changed = images.inputs.copy()
    changed[2, 0, 0, 0] += 0.5

    np.savez(renamed, inputs=images.inputs, labels=images.labels)
    intact = verify_report(json.loads(report), "r", run.model, renamed, sample=1)
    np.savez(renamed, inputs=changed, labels=images.labels)
    tampered = verify_report(json.loads(report), "r", run.model, renamed, sample=1)

    assert intact.passed, intact.failures
    assert _failed(tampered) == [("image", "inputs.npz#2")]
