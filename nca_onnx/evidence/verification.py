"""Verify a report: its seal, its schema, its inputs, and a re-computation of a sample."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from nca_onnx.errors import VerificationError
from nca_onnx.evidence.findings import Finding, VerificationOutcome

__all__ = ["DEFAULT_SAMPLE", "verify_report"]

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE = 20


def _check_document(document: dict, source: str) -> list[Finding]:
    from nca_onnx.evidence.digest import check_seal
    from nca_onnx.evidence.schema import schema_of, schema_problems

    schema = schema_of(document, source)
    try:
        digest = check_seal(document, source)
    except VerificationError as error:
        return [Finding("digest", source, False, str(error).removeprefix("digest: "))]
    findings = [Finding("digest", source, True, f"sha256 {digest[:16]}... matches the content")]
    problems = schema_problems(document, schema)
    header = document["schema"]
    findings.append(Finding(
        "schema", f"{header['name']} {header['version']}", not problems,
        "; ".join(problems[:3]) if problems else "the report matches its published schema"))
    return findings


def _preprocessing(report: dict, model):
    from nca_onnx.data.preprocess import resolve_preprocessing

    parameters = report["parameters"]
    return resolve_preprocessing(parameters["preset"], model.image_size, parameters["size"],
                                 parameters["mean"], parameters["std"],
                                 parameters["channel_order"], parameters["resize"])


def _check_preprocessing(report: dict, preprocessing) -> Finding:
    recorded = report["parameters"]["preprocessing"]
    if recorded.get("preset") == "none":
        return Finding("preprocessing", "arrays", True, "inputs used as stored")
    rebuilt = preprocessing.describe()
    differing = sorted(key for key in rebuilt.keys() | recorded.keys()
                       if rebuilt.get(key) != recorded.get(key))
    if differing:
        return Finding("preprocessing", ", ".join(differing), False,
                       f"rebuilt from the recorded parameters: {rebuilt}; recorded: {recorded}")
    return Finding("preprocessing", recorded["preset"], True,
                   "rebuilt from the recorded parameters, identical to the recorded one")


def _recorded_dataset(report: dict, data_path: Path, model, preprocessing):
    """The report's images, in report order, read and preprocessed as the analysis did."""
    from nca_onnx.data.dataset import load_dataset
    from nca_onnx.evidence.inputs_check import input_key

    dataset = load_dataset(data_path, report["parameters"]["classes"], preprocessing,
                           model.layout, model.input_shape)
    position = {input_key(record.id, data_path): row
                for row, record in enumerate(dataset.records)}
    rows = [position[input_key(image["id"], data_path)] for image in report["images"]]
    return replace(dataset, records=tuple(dataset.records[row] for row in rows),
                   inputs=dataset.inputs[rows])


def _recompute(report: dict, model_path: Path, data_path: Path, sample: int, seed: int,
               tolerance: float, provider: str) -> list[Finding]:
    from nca_onnx.analysis.run import unmasked_probabilities
    from nca_onnx.engine.session import resolve_providers
    from nca_onnx.evidence.recompute import (
        check_layers,
        check_selection,
        recompute_neurons,
        sample_neurons,
    )
    from nca_onnx.graph.load import load_model
    from nca_onnx.graph.neurons import find_layers

    parameters = report["parameters"]
    picks = sample_neurons(report, sample, seed)
    providers = resolve_providers(provider)
    model = load_model(model_path, parameters["layout"], parameters["output"])
    model_layers = {layer.name: layer for layer in find_layers(model.proto)}
    findings = check_layers(report, model_layers)
    preprocessing = _preprocessing(report, model)
    findings.append(_check_preprocessing(report, preprocessing))
    if not all(finding.passed for finding in findings):
        return findings

    dataset = _recorded_dataset(report, data_path, model, preprocessing)
    probabilities, _ = unmasked_probabilities(model, dataset.inputs, providers,
                                              parameters["memory_budget_bytes"])
    findings += check_selection(report, dataset, probabilities, tolerance)
    selected = np.array([row for row, image in enumerate(report["images"])
                         if image["status"] == "selected"], dtype=np.int64)
    findings += recompute_neurons(report, model, model_layers, dataset.inputs[selected],
                                  dataset.labels[selected], picks, providers, tolerance)
    return findings


def verify_report(report: dict, source: str, model_path: Path, data_path: Path,
                  sample: int = DEFAULT_SAMPLE, seed: int = 0, tolerance: float = 1e-5,
                  provider: str = "cpu") -> VerificationOutcome:
    """Check a report against its own digest, its schema, the files and a re-computation.

    Stops early when a stage fails: a changed report is not checked further, and
    neurons are recomputed only when the model, every image and the preprocessing
    match. Recomputed per-neuron statistics (mean, std, min, max, max_drop) must
    lie within `tolerance` of the report and decision flips must be equal.

    Cost: loads the model and images once, then one session and one full forward
    pass per sampled neuron (sample_neurons).

    Raises:
        EvidenceError: the report names no schema this version knows.
        ParameterError, ModelError, DataError: bad arguments or unreadable inputs.
    """
    from nca_onnx.data.dataset import load_dataset
    from nca_onnx.evidence.inputs_check import check_image_files, check_model_file

    findings = _check_document(report, source)
    if not all(finding.passed for finding in findings):
        return VerificationOutcome(tuple(findings), tolerance)

    findings.append(check_model_file(report, model_path))

    def arrays():
        from nca_onnx.graph.load import load_model

        parameters = report["parameters"]
        model = load_model(model_path, parameters["layout"], parameters["output"])
        return load_dataset(data_path, parameters["classes"], None, model.layout,
                            model.input_shape)

    findings += check_image_files(report, data_path, arrays)
    if all(finding.passed for finding in findings):
        findings += _recompute(report, model_path, data_path, sample, seed, tolerance, provider)
    outcome = VerificationOutcome(tuple(findings), tolerance)
    logger.info("verified %s: %d findings, %d failed", source, len(findings),
                len(outcome.failures))
    return outcome
