"""Protection manifest: checksums of the most critical neurons' weights, and their check."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from nca_onnx import __version__
from nca_onnx.errors import ParameterError, VerificationError
from nca_onnx.evidence.digest import seal
from nca_onnx.evidence.filters import SLICE_DEFINITION, filter_checksums, layer_arrays

__all__ = ["MANIFEST_NAME", "MANIFEST_VERSION", "ManifestCheck", "build_manifest",
           "check_manifest", "most_critical"]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "nca-onnx/protection-manifest"
MANIFEST_VERSION = "1.0.0"


@dataclass(frozen=True)
class ManifestCheck:
    """The outcome of checking a model against a manifest.

    `changed` names each neuron whose weight or bias bytes differ (or that is gone);
    the model file may differ (`model_matches` False) while the protected filters
    are intact.
    """

    checked: int
    changed: tuple[str, ...]
    model_matches: bool

    @property
    def passed(self) -> bool:
        return not self.changed


def most_critical(report: dict, top: int) -> list[dict]:
    """The `top` most critical neurons of each class, merged: layer, index, classes.

    Order: by best rank over the classes, then layer position and index.
    """
    if top < 1:
        raise ParameterError(f"--top must be at least 1, got {top}")
    positions = {layer["name"]: layer["position"] for layer in report["layers"]}
    chosen: dict[tuple[str, int], dict] = {}
    for section in report["results"]:
        ranked = sorted(section["neurons"], key=lambda row: row["rank"])[:top]
        for row in ranked:
            entry = chosen.setdefault((row["layer"], row["index"]),
                                      {"layer": row["layer"], "index": row["index"],
                                       "classes": []})
            entry["classes"].append({"class": section["class"], "rank": row["rank"],
                                     "criticality": row["mean"], "max": row["max"]})
    return sorted(chosen.values(), key=lambda e: (min(c["rank"] for c in e["classes"]),
                                                  positions[e["layer"]], e["index"]))


def _layers_by_name(model) -> dict:
    from nca_onnx.graph.neurons import find_layers

    return {layer.name: layer for layer in find_layers(model.proto)}


def _checksum_rows(model, wanted: list[dict], source: str) -> list[dict]:
    layers = _layers_by_name(model)
    arrays: dict[str, tuple] = {}
    rows = []
    for entry in wanted:
        layer = layers.get(entry["layer"])
        if layer is None or entry["index"] >= layer.neurons:
            raise VerificationError(
                f"model: neuron {entry['layer']}[{entry['index']}] of '{source}' is not in "
                "the model; pass the model the report was written for"
            )
        if layer.name not in arrays:
            arrays[layer.name] = layer_arrays(model.proto, layer)
        checksum = filter_checksums(layer, *arrays[layer.name], entry["index"])
        rows.append({
            "layer": layer.name,
            "index": entry["index"],
            "op_type": layer.op_type,
            "weight": layer.weight,
            "weight_slice": checksum.weight_slice,
            "weight_bytes": checksum.weight_bytes,
            "dtype": checksum.dtype,
            "weight_sha256": checksum.weight_sha256,
            "bias": layer.bias,
            "bias_slice": checksum.bias_slice,
            "bias_sha256": checksum.bias_sha256,
            **({"classes": entry["classes"]} if "classes" in entry else {}),
        })
    return rows


def build_manifest(report: dict, report_path: Path, model_path: Path, top: int) -> dict:
    """A sealed manifest of the `top` most critical neurons of each class of `report`.

    Cost: loads the model once and hashes each chosen filter's bytes.

    Raises:
        ParameterError: `top` is below 1.
        VerificationError: the model is not the one the report was written for.
        ModelError: the model cannot be read.
    """
    from nca_onnx.graph.load import load_model

    wanted = most_critical(report, top)
    parameters = report["parameters"]
    model = load_model(model_path, parameters.get("layout"), parameters.get("output"))
    if model.sha256 != report["model"]["sha256"]:
        raise VerificationError(
            f"model: '{model_path}' has sha256 {model.sha256[:16]}... but the report was "
            f"written for {report['model']['sha256'][:16]}...; pass the analysed model"
        )
    manifest = {
        "schema": {"name": MANIFEST_NAME, "version": MANIFEST_VERSION},
        "tool": {"name": "nca-onnx", "version": __version__},
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": {"path": str(model_path), "sha256": model.sha256,
                  "layout": parameters.get("layout"), "output": parameters.get("output")},
        "report": {"path": str(report_path), "digest": report["integrity"]["digest"]},
        "selection": {"top": top, "rule": "the most critical neurons of each class by the "
                      "report's ranking, merged; ordered by best rank"},
        "slice_definition": SLICE_DEFINITION,
        "neurons": _checksum_rows(model, wanted, str(report_path)),
    }
    logger.info("manifest of %d neurons from %s", len(manifest["neurons"]), report_path)
    return seal(manifest)


def _differences(recorded: dict, actual: dict) -> list[str]:
    what = [part for part in ("weight", "bias")
            if recorded[f"{part}_sha256"] != actual[f"{part}_sha256"]]
    return [f"{recorded['layer']}[{recorded['index']}] {part} changed" for part in what]


def check_manifest(manifest: dict, model_path: Path) -> ManifestCheck:
    """Recompute every checksum of a (sealed, validated) manifest on `model_path`.

    Cost: loads the model once and hashes each protected filter's bytes.

    Raises:
        ModelError: the model cannot be read.
    """
    from nca_onnx.graph.load import load_model

    recorded_model = manifest["model"]
    model = load_model(model_path, recorded_model["layout"], recorded_model["output"])
    layers = _layers_by_name(model)
    present = [row for row in manifest["neurons"]
               if row["layer"] in layers and row["index"] < layers[row["layer"]].neurons]
    changed = [f"{row['layer']}[{row['index']}] missing from the model"
               for row in manifest["neurons"] if row not in present]
    actual = _checksum_rows(model, present, str(model_path))
    for recorded, now in zip(present, actual, strict=True):
        changed += _differences(recorded, now)
    return ManifestCheck(len(manifest["neurons"]), tuple(changed),
                         model.sha256 == recorded_model["sha256"])
