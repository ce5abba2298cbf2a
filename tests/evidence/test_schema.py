"""The published JSON Schemas: every report the tool writes matches its schema, strictly."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from evidence_runs import demo_run, with_stability
from jsonschema import Draft202012Validator

from nca_onnx.errors import EvidenceError
from nca_onnx.evidence import seal
from nca_onnx.evidence.schema import SCHEMA_FILES, load_schema, validate_document
from nca_onnx.report.evidence import SCHEMA_NAME, SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "schemas"
PACKAGED = REPO / "nca_onnx" / "evidence" / "schemas"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


def _property_names(schema: object) -> set[str]:
    if isinstance(schema, dict):
        names = set(schema.get("properties", {}))
        return names.union(*(_property_names(value) for value in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_property_names(value) for value in schema))
    return set()


def test_the_report_analyze_writes_matches_its_schema(run):
    validate_document(run.report(), str(run.report_path))


def test_a_report_with_a_stability_section_matches_the_schema(run):
    validate_document(with_stability(run.report()), "with-stability")


def test_the_report_names_a_schema_that_ships_with_the_package():
    schema = load_schema(SCHEMA_NAME, SCHEMA_VERSION)

    assert schema["properties"]["schema"]["properties"]["version"]["const"] == SCHEMA_VERSION


@pytest.mark.parametrize("path", sorted(PACKAGED.glob("*.schema.json")), ids=lambda p: p.name)
def test_each_schema_is_a_valid_draft_2020_12_schema(path):
    schema = json.loads(path.read_text())

    Draft202012Validator.check_schema(schema)
    version = re.search(r"-(\d+\.\d+\.\d+)\.schema\.json$", path.name).group(1)
    assert schema["$id"].endswith(version)


def test_the_published_schemas_are_the_packaged_ones():
    published = sorted(p.name for p in PUBLISHED.glob("*.schema.json"))

    assert published == sorted(p.name for p in PACKAGED.glob("*.schema.json"))
    for name in published:
        assert (PUBLISHED / name).read_bytes() == (PACKAGED / name).read_bytes()
    assert set(SCHEMA_FILES) == {"nca-onnx/report", "nca-onnx/protection-manifest"}


def test_a_new_key_needs_a_new_schema_version(run):
    report = run.report()
    report["results"][0]["neurons"][0]["note"] = "added"

    with pytest.raises(EvidenceError, match=r"at results/0/neurons/0: Additional properties"):
        validate_document(report, "changed")


def test_a_missing_key_is_named_with_its_path(run):
    report = run.report()
    del report["model"]["sha256"]

    with pytest.raises(EvidenceError, match=r"at model: 'sha256' is a required property"):
        validate_document(report, "changed")


def test_a_value_out_of_range_is_named(run):
    report = run.report()
    report["results"][0]["neurons"][3]["mean"] = 7.0

    with pytest.raises(EvidenceError, match=r"results/0/neurons/3/mean: 7\.0 is greater"):
        validate_document(seal(report), "changed")


def test_an_unknown_schema_version_is_refused(run):
    report = copy.deepcopy(run.report())
    report["schema"]["version"] = "9.9.9"

    with pytest.raises(EvidenceError, match="version 9.9.9 is unknown"):
        validate_document(report, "future")


def test_a_document_without_schema_header_is_refused():
    with pytest.raises(EvidenceError, match="no 'schema' section"):
        validate_document({"results": []}, "plain")


def test_every_key_of_every_schema_is_documented():
    documented = (REPO / "docs" / "report.md").read_text()
    for path in PACKAGED.glob("*.schema.json"):
        for name in _property_names(json.loads(path.read_text())):
            assert f"`{name}`" in documented, f"{path.name}: key '{name}' not in docs/report.md"
