"""The adversarial set on disk: adversarial.npz (inputs, labels) and a sealed manifest.json."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nca_onnx import __version__
from nca_onnx.adversarial.build import AdversarialSet
from nca_onnx.data.dataset import Dataset, load_dataset
from nca_onnx.errors import DataError, EvidenceError, VerificationError
from nca_onnx.graph.load import LoadedModel, file_sha256

__all__ = ["ARRAYS_FILE", "MANIFEST_FILE", "MANIFEST_FORMAT", "AdversarialInputs",
           "manifest_of", "read_adversarial_set", "write_adversarial_set"]

logger = logging.getLogger(__name__)

ARRAYS_FILE = "adversarial.npz"
MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = {"name": "nca-onnx/adversarial-manifest", "version": "1.0.0"}
METHOD = ("non-targeted iterative FGSM (METHOD.md, 'Adversarial set'): x <- clip(x + eps * "
          "sign(grad_x cross-entropy(x, label))) while no other class has a confidence above "
          "target_confidence, for at most `steps` steps; images that did not flip are kept")


def _counts(labels: np.ndarray, flipped: np.ndarray, misclassified: np.ndarray) -> dict:
    return {"images": int(len(labels)), "flipped": int(flipped.sum()),
            "not_flipped": int((~flipped).sum()),
            "misclassified_before": int(misclassified.sum())}


def _images(adversarial: AdversarialSet, rows_sha256: list[str]) -> list[dict]:
    fgsm, records = adversarial.fgsm, adversarial.dataset.records
    clean = adversarial.clean_probabilities
    return [
        {
            "row": row,
            "id": record.id,
            "source_sha256": record.sha256,
            "label": record.label,
            "original_class": int(clean[row].argmax()),
            "original_confidence": float(clean[row, record.label]),
            "steps_taken": int(fgsm.steps_taken[row]),
            "flipped": bool(fgsm.flipped[row]),
            "final_class": int(fgsm.final_class[row]),
            "final_confidence": float(fgsm.final_confidence[row]),
            "true_class_confidence": float(fgsm.true_class_confidence[row]),
            "linf_distance": float(fgsm.linf_distance[row]),
            "sha256": rows_sha256[row],
        }
        for row, record in enumerate(records)
    ]


def manifest_of(adversarial: AdversarialSet, arrays_sha256: str) -> dict:
    """The manifest of an adversarial set as JSON-ready data (sealed by the writer)."""
    import onnxruntime as ort

    fgsm, model, config = adversarial.fgsm, adversarial.model, adversarial.config
    labels = adversarial.dataset.labels
    inputs = np.ascontiguousarray(fgsm.adversarial, dtype=np.float32)
    rows_sha256 = [hashlib.sha256(row.tobytes()).hexdigest() for row in inputs]
    misclassified = adversarial.clean_probabilities.argmax(axis=1) != labels
    preprocessing = adversarial.preprocessing.describe() if adversarial.preprocessing else {
        "preset": "none", "note": "inputs read as stored in the array file"}
    return {
        "format": MANIFEST_FORMAT,
        "tool": {"name": "nca-onnx", "version": __version__},
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {"path": str(model.path), "sha256": model.sha256, "input": model.input_name,
                  "layout": model.layout, "output": model.output_name},
        "method": METHOD,
        "parameters": {
            **config.parameters(),
            "eps": adversarial.eps,
            "eps_rule": adversarial.eps_rule,
            "clip": adversarial.bounds.describe(),
            "preprocessing": preprocessing,
        },
        "runtime": {"onnxruntime": ort.__version__,
                    "execution_provider": adversarial.execution_provider},
        "counts": _counts(labels, fgsm.flipped, misclassified),
        "classes": [{"class": int(label), **_counts(labels[labels == label],
                                                     fgsm.flipped[labels == label],
                                                     misclassified[labels == label])}
                    for label in config.classes],
        "file": {"name": ARRAYS_FILE, "sha256": arrays_sha256},
        "images": _images(adversarial, rows_sha256),
    }


def write_adversarial_set(adversarial: AdversarialSet, out: Path) -> tuple[Path, Path]:
    """Write out/adversarial.npz and the sealed out/manifest.json; returns both paths.

    Each file is written under a .partial name and renamed into place, the manifest
    last, so an interrupted write never leaves a set that looks complete.
    """
    from nca_onnx.evidence import seal
    from nca_onnx.report.files import write_json

    out.mkdir(parents=True, exist_ok=True)
    arrays, manifest = out / ARRAYS_FILE, out / MANIFEST_FILE
    manifest.unlink(missing_ok=True)
    partial = out / f"{ARRAYS_FILE}.partial"
    with open(partial, "wb") as handle:
        np.savez(handle, inputs=np.ascontiguousarray(adversarial.fgsm.adversarial, np.float32),
                 labels=adversarial.dataset.labels.astype(np.int64))
    os.replace(partial, arrays)
    write_json(manifest, seal(manifest_of(adversarial, file_sha256(arrays))))
    logger.info("wrote %s and %s", arrays, manifest)
    return arrays, manifest


@dataclass(frozen=True)
class AdversarialInputs:
    """An adversarial set read back for the stability analysis.

    `provenance` is the `stability.adversarial` section of the report; `warnings` says
    what could not be confirmed (no manifest, another model, a changed file).
    """

    dataset: Dataset
    provenance: dict
    warnings: tuple[str, ...]


def _arrays_path(path: Path) -> Path:
    if path.is_dir():
        found = path / ARRAYS_FILE
        if not found.is_file():
            raise DataError(f"'{path}' holds no {ARRAYS_FILE}; pass the folder that "
                            "'nca-onnx adversarial --out' wrote, or an .npz file")
        return found
    if path.is_file() and path.suffix == ".npz":
        return path
    raise DataError(f"adversarial set '{path}' does not exist or is not a folder or an .npz "
                    "file; build one with 'nca-onnx adversarial'")


def _manifest_checks(manifest_path: Path, arrays_sha256: str, model: LoadedModel,
                     source: str) -> tuple[dict, list[str]]:
    from nca_onnx.evidence import check_seal, read_document

    if not manifest_path.is_file():
        return {}, [f"{source} has no {MANIFEST_FILE} beside it, so the model and attack it "
                    "was built with are unknown"]
    manifest = read_document(manifest_path, "manifest")
    warnings = []
    try:
        check_seal(manifest, str(manifest_path))
    except (EvidenceError, VerificationError) as error:
        warnings.append(f"{MANIFEST_FILE} cannot be trusted: {error}")
    recorded_model = (manifest.get("model") or {}).get("sha256")
    if recorded_model != model.sha256:
        warnings.append(f"{source} was built for another model (sha256 "
                        f"{str(recorded_model)[:16]}..., this model {model.sha256[:16]}...): "
                        "the measured adversarial accuracy is that of transferred inputs")
    if (manifest.get("file") or {}).get("sha256") != arrays_sha256:
        warnings.append(f"{source} differs from the file its manifest describes; it was "
                        "changed or replaced after it was written")
    return manifest, warnings


def read_adversarial_set(path: Path, classes: list[int], model: LoadedModel) -> AdversarialInputs:
    """Read an adversarial set (a folder from `nca-onnx adversarial`, or an .npz) for a model.

    The inputs must have the model's input shape; the manifest beside them, when
    present, is checked (seal, model SHA-256, file SHA-256) and any mismatch becomes a
    warning rather than an error, because transferred adversarial inputs are a valid
    experiment.

    Raises:
        DataError: the set is missing, unreadable, has another shape than the model input,
            or holds no input of one of `classes`.
    """
    arrays = _arrays_path(Path(path))
    dataset = load_dataset(arrays, classes, None, model.layout, model.input_shape)
    missing = sorted(set(classes) - set(int(label) for label in dataset.labels))
    if missing:
        raise DataError(f"adversarial set '{arrays}' holds no input of class(es) {missing}; "
                        "build it with nca-onnx adversarial --class for every analysed class")
    arrays_sha256 = file_sha256(arrays)
    manifest_path = arrays.parent / MANIFEST_FILE
    manifest, warnings = _manifest_checks(manifest_path, arrays_sha256, model, str(arrays))
    parameters = manifest.get("parameters") or {}
    provenance = {
        "path": str(arrays),
        "images": len(dataset.records),
        "inputs_sha256": dataset.digest,
        "file_sha256": arrays_sha256,
        "manifest": str(manifest_path) if manifest else None,
        "model_sha256": (manifest.get("model") or {}).get("sha256"),
        "eps": parameters.get("eps"),
        "steps": parameters.get("steps"),
        "target_confidence": parameters.get("target_confidence"),
    }
    for warning in warnings:
        logger.warning("%s", warning)
    return AdversarialInputs(dataset, provenance, tuple(warnings))
