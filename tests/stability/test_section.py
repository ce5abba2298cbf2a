"""The stability section in the report: schema 1.1.0, re-sealed, read by the standards map."""

from __future__ import annotations

import copy

import pytest
from evidence_runs import demo_run, stability_section

from nca_onnx.errors import EvidenceError
from nca_onnx.evidence import check_seal, seal, validate_document
from nca_onnx.stability.config import StabilityConfig
from nca_onnx.stability.run import stability_of_report
from nca_onnx.stability.section import report_with_stability
from nca_onnx.stability.section import stability_section as section_of


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


@pytest.fixture(scope="module")
def measured(run) -> dict:
    """The report with a stability section measured on the clean photos (no adversarial)."""
    report = run.report()
    result = stability_of_report(report, None, None, StabilityConfig(top=2, cumulative=True),
                                 "cpu")
    return report_with_stability(report, section_of(result))


def test_a_measured_section_matches_schema_1_1_0_and_is_sealed(measured):
    validate_document(measured, "measured")
    check_seal(measured, "measured")

    assert measured["schema"]["version"] == "1.1.0"
    section = measured["stability"]
    assert [item["class"] for item in section["classes"]] == [967, 872]
    assert section["adversarial"] is None and section["diagnostic_neurons"] == []
    assert section["crosscheck"]["passed"]
    first = section["classes"][0]
    assert first["rows"][0]["label"] == "no masking" and len(first["rows"]) == 3
    assert first["rows"][1]["masked"] == [{"layer": "/_fc/Gemm", "index": 967, "rank": 1}]
    assert first["rows"][1]["clean"]["accuracy"] < first["rows"][0]["clean"]["accuracy"]


def test_clean_results_only_make_the_sotif_item_partial(measured):
    item = next(item for item in measured["standards"]["items"] if item["id"] == "iso21448-7")

    assert item["status"] == "partial"
    assert "not measured (class 967)" in item["evidence"][0]["summary"]


def test_a_1_0_0_report_is_raised_to_1_1_0_when_the_section_is_added(run):
    old = run.report()
    old["schema"]["version"] = "1.0.0"
    old = seal(old)
    validate_document(old, "old")  # the 1.0.0 schema still checks old reports

    raised = report_with_stability(old, stability_section(old))

    assert raised["schema"]["version"] == "1.1.0"
    validate_document(raised, "raised")
    check_seal(raised, "raised")


def test_the_section_allows_no_key_beyond_the_schema(run):
    report = report_with_stability(run.report(), stability_section(run.report()))
    changed = copy.deepcopy(report)
    changed["stability"]["classes"][0]["rows"][1]["note"] = "added"

    with pytest.raises(EvidenceError, match=r"at stability/classes/0/rows/1: Additional"):
        validate_document(changed, "changed")
