"""The standards mapping: four cited clauses, guidance wording, status from the evidence."""

from __future__ import annotations

import copy

import pytest
from evidence_runs import demo_run, stability_section

from nca_onnx.evidence.standards import load_mapping, standards_section, with_standards

CITED = {("ISO 26262-8:2018", "11"), ("ISO 26262-9:2018", "8"), ("ISO/PAS 8800:2024", "6.7"),
         ("ISO 21448:2022", "7")}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


def _status(section: dict, item_id: str) -> str:
    return next(item["status"] for item in section["items"] if item["id"] == item_id)


def test_the_mapping_cites_exactly_the_four_clauses():
    mapping = load_mapping()

    assert {(item["standard"], item["clause"]) for item in mapping["items"]} == CITED


def test_the_section_says_it_is_guidance_to_confirm(run):
    section = run.report()["standards"]

    assert section["guidance"].startswith("Guidance only")
    assert "your own copy of the standard" in section["guidance"]
    assert section["mapping"] == {"name": "nca-onnx/standards-mapping", "version": "1.0.0"}


def test_a_passed_crosscheck_supports_tool_confidence(run):
    section = run.report()["standards"]
    item = next(item for item in section["items"] if item["id"] == "iso26262-8-11")

    assert item["status"] == "supported"
    assert "largest deviation" in item["evidence"][0]["summary"]
    assert item["evidence"][0]["summary"].endswith("passed")


def test_a_failed_crosscheck_makes_tool_confidence_partial(run):
    report = copy.deepcopy(run.report())
    report["crosscheck"]["passed"] = False

    assert _status(standards_section(report), "iso26262-8-11") == "partial"


def test_safety_analysis_evidence_names_the_flagged_layers(run):
    section = run.report()["standards"]
    item = next(item for item in section["items"] if item["id"] == "iso26262-9-8")

    assert "/_fc/Gemm" in item["evidence"][1]["summary"]
    assert "class 967" in item["evidence"][1]["summary"]


def test_the_fault_model_is_stated_with_its_definition(run):
    section = run.report()["standards"]
    item = next(item for item in section["items"] if item["id"] == "iso-pas-8800-6.7")

    assert "'zero-weights'" in item["evidence"][0]["summary"]
    assert "bias is kept" in item["evidence"][0]["summary"]


def test_without_adversarial_results_the_sotif_item_is_not_available(run):
    assert _status(run.report()["standards"], "iso21448-7") == "not-available"


@pytest.mark.parametrize("adversarial, status", [(True, "supported"), (False, "partial")])
def test_stability_results_feed_the_sotif_item(run, adversarial, status):
    report = run.report()
    stability = stability_section(report)
    if not adversarial:
        stability["adversarial"] = None
        for section in stability["classes"]:
            for row in section["rows"]:
                row["adversarial"] = None
    section = with_standards({**report, "stability": stability})["standards"]

    assert _status(section, "iso21448-7") == status
