"""The HTML report in a real headless Chromium: renders offline, no console error, all figures.

Needs Debian's chromium (apt-get install -y chromium). Without it the test is skipped
on a workstation and fails under CI (CI=true). The screenshot and the printed PDF are
kept in tests/artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from evidence_runs import demo_run, with_stability
from headless_browser import find_browser, visit

from nca_onnx.report.html import write_html

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
FIGURES = """JSON.stringify([...document.querySelectorAll('figure[data-figure]')].map(f => {
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return [f.id, f.dataset.figure, box.width, box.height, svg ? svg.querySelectorAll(
        'path, rect, use, text').length : 0];
}))"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


@pytest.fixture(scope="module")
def browser() -> str:
    found = find_browser()
    if found is None:
        message = "Chromium is not installed: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_the_report_renders_with_every_figure_and_no_error(run, browser, tmp_path):
    import json

    page = write_html(with_stability(run.report()), tmp_path / "report.html")
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot, pdf = ARTIFACTS / "report.png", ARTIFACTS / "report.pdf"

    seen = visit(browser, page, tmp_path / "profile",
                 {"figures": FIGURES, "title": "document.title"}, screenshot, pdf)
    print(f"screenshot: {screenshot}\nprinted: {pdf}")

    figures = json.loads(seen.values["figures"])
    assert seen.errors == []
    assert seen.requests == [page.resolve().as_uri()]
    assert [(figure_id, kind) for figure_id, kind, *_ in figures] == [
        ("fig-layers-967", "layer-criticality"), ("fig-spread-967", "neuron-spread"),
        ("fig-layers-872", "layer-criticality"), ("fig-spread-872", "neuron-spread"),
        ("fig-stability-967", "stability"), ("fig-stability-872", "stability")]
    for figure_id, _, width, height, marks in figures:
        assert width > 300 and height > 100 and marks > 20, figure_id
    assert seen.values["title"].startswith("nca-onnx report: efficientnet_lite0.onnx")
    assert screenshot.stat().st_size > 50_000
    assert pdf.read_bytes().startswith(b"%PDF")


def test_the_harness_catches_a_console_error_and_a_second_request(browser, tmp_path):
    # The extra request is for a local file that does not exist: no network is touched.
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><img src='missing.png'>"
                    "<script>console.error('boom')</script></body></html>")

    seen = visit(browser, page, tmp_path / "profile", {})

    assert any("boom" in error for error in seen.errors)
    assert (tmp_path / "missing.png").as_uri() in seen.requests
