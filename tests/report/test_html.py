"""The HTML report as text: self-contained, every section present, warnings when due."""

from __future__ import annotations

import re
import sys

import pytest
from evidence_runs import demo_run, with_stability

from nca_onnx.errors import MissingExtraError
from nca_onnx.report.html import render_html


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


@pytest.fixture(scope="module")
def page(run) -> str:
    return render_html(with_stability(run.report()))


def test_the_page_analyze_wrote_has_two_figures_per_class(run):
    text = run.html_path.read_text()

    assert text.count('data-figure="layer-criticality"') == 2
    assert text.count('data-figure="neuron-spread"') == 2
    assert 'data-figure="stability"' not in text


def test_the_page_loads_nothing_from_outside(page):
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)=["'](https?:|//)""", page)
    assert "@import" not in page and "url(http" not in page
    assert "default-src 'none'" in page


def test_every_section_is_present(page):
    for anchor in ("summary", "class-967", "class-872", "stability", "crosscheck",
                   "standards", "reproducibility"):
        assert f'id="{anchor}"' in page
    assert page.count("<figure") == 6


def test_the_summary_names_model_data_and_parameters(run, page):
    report = run.report()

    assert report["model"]["sha256"] in page
    assert "efficientnet_lite0.onnx" in page and "demo_images" in page
    assert "zero-weights" in page and "efficientnet-lite: 224x224 crop" in page


def test_reproducibility_lists_every_image_hash_and_the_verify_command(run, page):
    for image in run.report()["images"]:
        assert image["sha256"] in page
    assert "nca-onnx verify report.json --model" in page


def test_the_standards_mapping_is_shown_as_guidance(page):
    assert "ISO 26262-8:2018 clause 11" in page and "ISO 21448:2022 clause 7" in page
    assert "Guidance only" in page


def test_the_page_has_a_print_style(page):
    assert "@media print" in page and "@page" in page


def test_a_changed_report_is_shown_with_a_warning(run):
    report = run.report()
    report["results"][0]["neurons"][0]["mean"] = 0.5

    text = render_html(report)

    assert 'class="banner bad"' in text and "digest mismatch" in text


def test_a_clean_report_is_shown_without_warning(page):
    assert 'class="banner bad"' not in page


def test_without_matplotlib_the_error_names_the_extra(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    with pytest.raises(MissingExtraError, match="nca-onnx\\[report\\]"):
        render_html(run.report())
