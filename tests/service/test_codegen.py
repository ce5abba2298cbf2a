"""The generated gRPC code is reproducible and the contract mirrors AnalysisConfig."""

from __future__ import annotations

from nca_onnx.service import codegen
from nca_onnx.service.convert import unmirrored_fields


def test_regenerated_code_is_identical_to_the_committed_files(tmp_path):
    written = codegen.generate(tmp_path)

    assert [path.name for path in written] == list(codegen.GENERATED_FILES)
    for path in written:
        committed = codegen.PACKAGE_DIR / path.name
        assert path.read_bytes() == committed.read_bytes(), (
            f"{committed} is stale; run python -m nca_onnx.service.codegen")


def test_check_mode_reports_the_committed_files_fresh():
    assert codegen.main(["--check"]) == 0


def test_analysis_parameters_mirror_every_field_of_analysis_config():
    missing_in_proto, unknown_to_config = unmirrored_fields()

    assert missing_in_proto == set(), "add these AnalysisConfig fields to AnalysisParameters"
    assert unknown_to_config == set()
