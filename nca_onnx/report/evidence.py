"""Build the versioned JSON evidence report from an analysis result."""

from __future__ import annotations

import datetime as dt
import math

from nca_onnx import __version__
from nca_onnx.analysis.run import AnalysisResult
from nca_onnx.data.dataset import ARRAY_SUFFIXES
from nca_onnx.metric.statistics import ClassStatistics

__all__ = ["SCHEMA_NAME", "SCHEMA_VERSION", "METHOD_SUMMARY", "build_report"]

SCHEMA_NAME = "nca-onnx/report"
SCHEMA_VERSION = "1.1.0"
METHOD_SUMMARY = {
    "document": "METHOD.md (Neurons' Criticality Analysis as implemented by nca-onnx)",
    "criticality": (
        "misclassified (m_i <= m_j): 1/(1-m_j) if m_j < 0.5 else 2; "
        "else y_i - m_i if y_i - m_i >= tau; else y_i - m_i (anti-critical) if tau == 0 "
        "and y_i - m_i < 0; else 0"
    ),
    "confidence": "softmax probability; the model's own Softmax output when it ends in one",
    "baseline": "y_i comes from the same engine run as m_i (a row with no neuron masked)",
    "std": "population standard deviation (ddof = 0) over the selected images",
    "flagged_layer": "a neuron's masking dropped the confidence by >= 0.5 or changed the "
                     "decision on at least one image",
    "ranking": "mean criticality descending, then max descending, then layer order, index",
}


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _class_section(stats: ClassStatistics) -> dict:
    neurons = stats.neurons
    return {
        "class": stats.label,
        "images": stats.images,
        "flagged_layers": stats.flagged_layers,
        "layers": [
            {key: (_finite(value) if isinstance(value, float) else value)
             for key, value in row.items()}
            for row in stats.layers.to_dict(orient="records")
        ],
        "neurons": [
            {
                "layer": row.layer,
                "index": int(row.index),
                "rank": int(row.rank),
                "mean": float(row.mean),
                "std": float(row.std),
                "min": float(row.min),
                "max": float(row.max),
                "max_drop": float(row.max_drop),
                "decision_flips": int(row.decision_flips),
                "anti_critical_images": int(row.anti_critical_images),
            }
            for row in neurons.itertuples()
        ],
    }


def _images(result: AnalysisResult) -> list[dict]:
    records = result.dataset.records
    return [
        {
            "id": records[v.index].id,
            "path": records[v.index].path,
            "sha256": records[v.index].sha256,
            "label": records[v.index].label,
            "predicted": v.predicted,
            "confidence": v.confidence,
            "status": "selected" if v.selected else "rejected",
            "reason": v.reason,
        }
        for v in result.verdicts
    ]


def _preprocessing(result: AnalysisResult) -> dict:
    if result.config.data.suffix in ARRAY_SUFFIXES:
        return {"preset": "none", "note": "inputs read as stored in the array file"}
    return result.preprocessing.describe()


def build_report(result: AnalysisResult) -> dict:
    """The evidence report as plain JSON-ready data (schema SCHEMA_VERSION)."""
    check = result.crosscheck
    return {
        "schema": {"name": SCHEMA_NAME, "version": SCHEMA_VERSION},
        "status": "complete",
        "tool": {"name": "nca-onnx", "version": __version__},
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "runtime": result.runtime,
        "model": result.model.describe(),
        "parameters": {**result.config.parameters(), "preprocessing": _preprocessing(result)},
        "method": METHOD_SUMMARY,
        "images": _images(result),
        "layers": [layer.describe() for layer in result.layers],
        "results": [_class_section(stats) for stats in result.statistics],
        "crosscheck": {
            "path": "reference: filter zeroed in the initializer, new session, full forward",
            "compared": "masked confidences m_i and m_j on every selected image",
            "tolerance": check.tolerance,
            "max_abs_deviation": check.max_abs_deviation,
            "passed": check.passed,
            "neurons": [
                {"layer": n.layer, "index": n.index, "reason": n.reason,
                 "max_abs_deviation": n.max_abs_deviation}
                for n in check.neurons
            ],
        },
        "timings": result.timings,
    }
