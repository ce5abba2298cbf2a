"""The `stability` section of the report, and a report re-sealed with it."""

from __future__ import annotations

from nca_onnx.stability.measure import RowMetrics, RowResult, StabilityResult

__all__ = ["CROSSCHECK_PATH", "report_with_stability", "stability_section"]

CROSSCHECK_PATH = ("reference: the filters of every masked neuron zeroed in the initializers, "
                   "new session, full forward pass; compared on the class probabilities of the "
                   "largest masking row of each class")


def _metrics(metrics: RowMetrics | None) -> dict | None:
    if metrics is None:
        return None
    return {"accuracy": metrics.accuracy, "mean_confidence": metrics.mean_confidence,
            "std_confidence": metrics.std_confidence}


def _row(result: RowResult) -> dict:
    return {
        "row": result.row.row,
        "masked": [{"layer": n.layer.name, "index": n.index, "rank": n.rank}
                   for n in result.row.masked],
        "label": result.row.label,
        "clean": _metrics(result.clean),
        "adversarial": _metrics(result.adversarial),
    }


def stability_section(result: StabilityResult) -> dict:
    """The report's `stability` section (schema 1.1.0, docs/report.md) for a result."""
    return {
        "top": result.config.top,
        "cumulative": result.config.cumulative,
        "fault": result.fault,
        "clean": result.clean_provenance,
        "adversarial": result.adversarial_provenance,
        "classes": [
            {
                "class": stability.label,
                "clean_images": stability.clean_images,
                "adversarial_images": stability.adversarial_images,
                "rows": [_row(row) for row in stability.single],
                "cumulative_rows": [_row(row) for row in stability.cumulative],
            }
            for stability in result.classes
        ],
        "diagnostic_neurons": [
            {
                "class": item.label,
                "layer": item.neuron.layer.name,
                "index": item.neuron.index,
                "rank": item.neuron.rank,
                "row": item.row,
                "adversarial_accuracy": item.adversarial_accuracy,
                "unmasked_adversarial_accuracy": item.unmasked_adversarial_accuracy,
                "clean_accuracy": item.clean_accuracy,
            }
            for item in result.diagnostic
        ],
        "crosscheck": {
            "path": CROSSCHECK_PATH,
            "tolerance": result.tolerance,
            "max_abs_deviation": result.max_abs_deviation,
            "passed": result.crosscheck_passed,
            "rows": [{"class": stability.label, "kind": stability.crosscheck_row.kind,
                      "row": stability.crosscheck_row.row,
                      "max_abs_deviation": stability.crosscheck_deviation}
                     for stability in result.classes],
        },
        "warnings": list(result.warnings),
        "timings": result.timings,
    }


def report_with_stability(report: dict, section: dict) -> dict:
    """A new sealed report: `report` with its `stability` section set and standards rebuilt.

    The old seal is dropped and the schema version raised to the one that defines the
    section precisely (SCHEMA_VERSION); the input is not changed.
    """
    from nca_onnx.evidence import seal, with_standards
    from nca_onnx.evidence.digest import INTEGRITY_KEY
    from nca_onnx.report.evidence import SCHEMA_NAME, SCHEMA_VERSION

    body = {key: value for key, value in report.items() if key != INTEGRITY_KEY}
    body["schema"] = {"name": SCHEMA_NAME, "version": SCHEMA_VERSION}
    body["stability"] = section
    return seal(with_standards(body))
