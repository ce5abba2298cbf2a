"""Tables for analysts from a report: neurons, layers and stability rows as CSV or Parquet."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from nca_onnx.errors import MissingExtraError, ParameterError
from nca_onnx.metric.statistics import LAYER_COLUMNS, NEURON_COLUMNS

__all__ = ["STABILITY_COLUMNS", "TABLE_FORMATS", "report_tables", "require_table_format",
           "stability_table", "write_tables"]

logger = logging.getLogger(__name__)

TABLE_FORMATS = ("csv", "parquet")
_METRICS = ("accuracy", "mean_confidence", "std_confidence")
STABILITY_COLUMNS = ["kind", "row", "label", "masked",
                     *(f"{data}_{metric}" for data in ("clean", "adversarial")
                       for metric in _METRICS)]


def _masked_text(masked: list[dict]) -> str:
    """'layer[index]' items joined by '; '."""
    return "; ".join(f"{item['layer']}[{item['index']}]" for item in masked)


def _stability_row(kind: str, row: dict) -> dict:
    flat = {"kind": kind, "row": row["row"], "label": row["label"],
            "masked": _masked_text(row.get("masked") or [])}
    for data in ("clean", "adversarial"):
        metrics = row.get(data) or {}
        for metric in _METRICS:
            flat[f"{data}_{metric}"] = metrics.get(metric)
    return flat


def stability_table(stability: dict) -> pd.DataFrame:
    """One row per stability row of every class: class, kind (single or cumulative), row,
    label, masked and the metrics.

    Adversarial columns are empty where no adversarial set was measured.
    """
    rows = []
    for section in stability.get("classes", []):
        for kind, key in (("single", "rows"), ("cumulative", "cumulative_rows")):
            rows += [{"class": section["class"], **_stability_row(kind, row)}
                     for row in section.get(key, [])]
    return pd.DataFrame(rows, columns=["class", *STABILITY_COLUMNS])


def report_tables(report: dict) -> dict[str, pd.DataFrame]:
    """`neurons`, `layers` and (when the report has it) `stability`, from a report.

    The neuron and layer tables have the columns `nca-onnx analyze` writes:
    `class`, then the per-neuron (per-layer) statistics, neurons ending with `rank`.
    """
    neurons = [{"class": section["class"], **row} for section in report["results"]
               for row in section["neurons"]]
    layers = [{"class": section["class"], **row} for section in report["results"]
              for row in section["layers"]]
    tables = {
        "neurons": pd.DataFrame(neurons, columns=["class", *NEURON_COLUMNS, "rank"]),
        "layers": pd.DataFrame(layers, columns=["class", *LAYER_COLUMNS]),
    }
    if report.get("stability"):
        tables["stability"] = stability_table(report["stability"])
    return tables


def require_table_format(table_format: str) -> None:
    """Check a --format choice and its dependency before any work is done.

    Raises:
        ParameterError: the format is not csv or parquet.
        MissingExtraError: Parquet was asked for and pyarrow is missing.
    """
    if table_format not in TABLE_FORMATS:
        raise ParameterError(
            f"--format '{table_format}' is not known; use one of {', '.join(TABLE_FORMATS)}")
    if table_format == "parquet":
        try:
            import pyarrow  # noqa: F401  (pandas writes Parquet through it)
        except ImportError as error:
            raise MissingExtraError(
                "Parquet tables need pyarrow, which is not installed; install the extra with "
                "pip install 'nca-onnx[parquet]' or use --format csv"
            ) from error


def write_tables(tables: dict[str, pd.DataFrame], out: Path, table_format: str) -> list[Path]:
    """Write each table as out/NAME.csv or out/NAME.parquet; returns the paths written.

    Each file is written under a .partial name and renamed into place, so that an
    interrupted export never leaves a file that looks complete.

    Raises:
        ParameterError: the format is not csv or parquet.
        MissingExtraError: Parquet was asked for and pyarrow is missing.
    """
    require_table_format(table_format)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        path = out / f"{name}.{table_format}"
        partial = path.with_name(path.name + ".partial")
        if table_format == "csv":
            table.to_csv(partial, index=False)
        else:
            table.to_parquet(partial, index=False)
        os.replace(partial, path)
        written.append(path)
        logger.info("wrote %s (%d rows)", path, len(table))
    return written
