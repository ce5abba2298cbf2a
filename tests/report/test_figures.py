"""The figures: inline SVG with ids of their own, flagged layers drawn in red."""

from __future__ import annotations

import re
import sys

import pytest
from evidence_runs import demo_run, stability_section

from nca_onnx.errors import MissingExtraError
from nca_onnx.report.figures import (
    FLAGGED_COLOUR,
    layer_criticality_svg,
    neuron_spread_svg,
    stability_svg,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The session's shared analysis (tests/evidence_runs.py)."""
    return demo_run(tmp_path_factory)


def test_flagged_layers_are_drawn_in_red(run):
    section = run.report()["results"][0]

    svg = layer_criticality_svg(section, "a")

    assert svg.startswith("<svg") and "<?xml" not in svg
    assert svg.count(f"fill: {FLAGGED_COLOUR}") == len(section["flagged_layers"]) == 1
    assert "/_fc/Gemm" in svg and "/_conv_head/Conv" in svg


def test_figures_on_one_page_share_no_id(run):
    report = run.report()
    svgs = [layer_criticality_svg(report["results"][0], "a"),
            neuron_spread_svg(report["results"][0], "b"),
            stability_svg(stability_section(report)["classes"][0], "c")]

    ids = [found for svg in svgs for found in re.findall(r'id="([^"]+)"', svg)]
    references = {found for svg in svgs
                  for found in re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', svg)}
    references = {name for pair in references for name in pair if name}

    assert len(ids) == len(set(ids))
    assert references and references <= set(ids)


def test_stability_curves_show_both_sets_and_both_variants(run):
    svg = stability_svg(stability_section(run.report())["classes"][0], "s")

    assert svg.count("masked alone") == 1 and svg.count("first n masked together") == 1
    assert "adversarial" in svg and "clean" in svg


def test_without_matplotlib_the_error_names_the_extra(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    with pytest.raises(MissingExtraError, match=r"pip install 'nca-onnx\[report\]'"):
        layer_criticality_svg(run.report()["results"][0], "a")
