"""Render a report as one self-contained HTML page: inline CSS and SVG, no script, offline."""

from __future__ import annotations

import logging
import os
from html import escape
from importlib import resources
from pathlib import Path

from nca_onnx.report import html_sections as sections

__all__ = ["DEFAULT_TOP", "render_html", "write_html"]

logger = logging.getLogger(__name__)

DEFAULT_TOP = 20
# The page may use nothing outside itself: no script, no fetch, images only inline.
_CONTENT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _digest_state(report: dict) -> bool | None:
    from nca_onnx.evidence.digest import digest

    recorded = report.get("integrity", {}).get("digest")
    return None if recorded is None else digest(report) == recorded


def _banner(report: dict, digest_ok: bool | None) -> str:
    problems = []
    if digest_ok is False:
        problems.append("the report was changed after it was written (digest mismatch)")
    if digest_ok is None:
        problems.append("the report carries no digest")
    if not report["crosscheck"]["passed"]:
        problems.append("the cross-check by the reference path failed")
    stability = report.get("stability")
    if stability and not stability["crosscheck"]["passed"]:
        problems.append("the stability cross-check by the reference path failed")
    if problems:
        return f'<p class="banner bad">Warning: {escape("; ".join(problems))}.</p>'
    return ('<p class="banner ok">Digest matches the content; cross-check by the reference '
            "path passed.</p>")


def _navigation(report: dict) -> str:
    links = [("summary", "Summary")]
    links += [(f"class-{s['class']}", f"Class {s['class']}") for s in report["results"]]
    if report.get("stability"):
        links.append(("stability", "Network stability"))
    links.append(("crosscheck", "Cross-check"))
    if report.get("standards"):
        links.append(("standards", "What the evidence supports"))
    links.append(("reproducibility", "Reproducibility"))
    items = "".join(f'<li><a href="#{target}">{escape(text)}</a></li>' for target, text in links)
    return f"<nav><b>Contents</b><ol>{items}</ol></nav>"


def render_html(report: dict, top: int = DEFAULT_TOP) -> str:
    """The page for a report (schema 1.0.0 or 1.1.0) as text; `top` neurons are listed per class.

    Reads the report only. Cost: draws two figures per class, one for stability.

    Raises:
        MissingExtraError: matplotlib is not installed.
    """
    css = resources.files("nca_onnx.report").joinpath("report.css").read_text("utf-8")
    model_name = Path(report["model"]["path"]).name
    digest_ok = _digest_state(report)
    classes = ", ".join(str(section["class"]) for section in report["results"])
    body = [
        "<header>",
        f"<h1>Neurons' Criticality Analysis: {escape(model_name)}</h1>",
        (f'<p class="meta">class(es) {escape(classes)}; fault model '
         f"{escape(report['parameters']['fault'])}; written {escape(report['created_utc'])} "
         f"by {escape(report['tool']['name'])} {escape(report['tool']['version'])}</p>"),
        _banner(report, digest_ok),
        "</header>",
        _navigation(report),
        sections.summary_section(report),
        *(sections.class_section(section, top) for section in report["results"]),
        sections.stability_section(report),
        sections.crosscheck_section(report),
        sections.standards_section(report),
        sections.reproducibility_section(report, digest_ok),
        ("<footer>Generated from report.json by nca-onnx; the JSON report is the evidence "
         "of record, this page is a view of it.</footer>"),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CONTENT_POLICY}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>nca-onnx report: {escape(model_name)}, class(es) {escape(classes)}</title>"
        f"<style>{css}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_html(report: dict, path: Path, top: int = DEFAULT_TOP) -> Path:
    """Render and write the page atomically (a .partial file renamed into place)."""
    text = render_html(report, top)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    logger.info("wrote %s (%d bytes)", path, len(text))
    return path
