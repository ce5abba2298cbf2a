"""Redo parts of an analysis by the reference path and compare them with a report."""

from __future__ import annotations

import logging

import numpy as np

from nca_onnx.errors import ParameterError
from nca_onnx.evidence.findings import Finding

__all__ = ["COMPARED_STATISTICS", "check_layers", "check_selection", "recompute_neurons",
           "sample_neurons"]

logger = logging.getLogger(__name__)

# Per-neuron statistics compared within the tolerance; decision flips must be equal.
# anti_critical_images is not compared: an image whose y_i - m_i sits at the noise
# floor may count on one path and not on the other without any real difference.
COMPARED_STATISTICS = ("mean", "std", "min", "max", "max_drop")


def sample_neurons(report: dict, count: int, seed: int) -> list[tuple[str, int]]:
    """The most critical neuron of each class, then seeded random neurons up to `count`.

    The random part draws without replacement from every neuron of the report's
    layers, in layer order, with numpy's default_rng(seed).

    Raises:
        ParameterError: `count` is below 1.
    """
    if count < 1:
        raise ParameterError(f"--sample must be at least 1, got {count}")
    picks: list[tuple[str, int]] = []
    for section in report["results"]:
        best = min(section["neurons"], key=lambda row: row["rank"])
        if (best["layer"], best["index"]) not in picks:
            picks.append((best["layer"], best["index"]))
    chosen = set(picks)
    remaining = [(layer["name"], index) for layer in report["layers"]
                 for index in range(layer["neurons"]) if (layer["name"], index) not in chosen]
    rng = np.random.default_rng(seed)
    for position in rng.permutation(len(remaining))[:max(0, count - len(picks))]:
        picks.append(remaining[int(position)])
    return picks


def check_layers(report: dict, model_layers: dict) -> list[Finding]:
    """Each recorded layer must exist in the model with the same type, width and shape."""
    failures = []
    for layer in report["layers"]:
        found = model_layers.get(layer["name"])
        if found is None:
            failures.append(Finding("layer", layer["name"], False, "not found in the model"))
        elif (found.op_type, found.neurons, list(found.weight_shape)) != \
                (layer["op_type"], layer["neurons"], layer["weight_shape"]):
            failures.append(Finding(
                "layer", layer["name"], False,
                f"the model has {found.op_type} with {found.neurons} neurons and weight "
                f"{list(found.weight_shape)}; the report records {layer['op_type']} with "
                f"{layer['neurons']} neurons and weight {layer['weight_shape']}"))
    if failures:
        return failures
    return [Finding("layer", "all", True,
                    f"{len(report['layers'])} recorded layers found with the same shapes")]


def check_selection(report: dict, dataset, probabilities: np.ndarray,
                    tolerance: float) -> list[Finding]:
    """Recorded prediction, confidence and status of each image against a recomputation.

    `dataset` holds exactly the report's images in report order; `probabilities`
    are the intact model's class probabilities for them.
    """
    from nca_onnx.data.selection import select_images

    parameters = report["parameters"]
    verdicts = select_images(dataset, probabilities, parameters["min_confidence"],
                             parameters["max_images"])
    failures, largest = [], 0.0
    for image, verdict in zip(report["images"], verdicts, strict=True):
        deviation = abs(verdict.confidence - image["confidence"])
        largest = max(largest, deviation)
        status = "selected" if verdict.selected else "rejected"
        if verdict.predicted != image["predicted"] or status != image["status"] or \
                deviation > tolerance:
            failures.append(Finding(
                "selection", image["id"], False,
                f"recomputed: predicted {verdict.predicted}, confidence "
                f"{verdict.confidence:.6f}, {status}; recorded: predicted "
                f"{image['predicted']}, confidence {image['confidence']:.6f}, "
                f"{image['status']}", deviation))
    if failures:
        return failures
    return [Finding("selection", "all", True,
                    f"prediction, confidence and status of {len(verdicts)} images reproduced",
                    largest)]


def _statistics(masked, columns: np.ndarray, tau: float, noise_floor: float) -> dict:
    from nca_onnx.metric.criticality import confidence_drop, criticality

    unmasked = masked.unmasked[0, columns]
    true_class = masked.true_class[0, columns]
    best_other = masked.best_other[0, columns]
    values = criticality(unmasked, true_class, best_other, tau, noise_floor)
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "max_drop": float(confidence_drop(unmasked, true_class, noise_floor).max()),
        "decision_flips": int((true_class <= best_other).sum()),
    }


def _compare(label: int, layer: str, index: int, recorded: dict | None, recomputed: dict,
             tolerance: float) -> Finding:
    subject = f"{layer}[{index}] class {label}"
    if recorded is None:
        return Finding("neuron", subject, False, "missing from the report's results")
    deviations = {key: abs(recomputed[key] - recorded[key]) for key in COMPARED_STATISTICS}
    worst = max(deviations, key=deviations.get)
    detail = (f"largest deviation {deviations[worst]:.2e} in {worst} (recorded "
              f"{recorded[worst]:.6g}, recomputed {recomputed[worst]:.6g})")
    passed = deviations[worst] <= tolerance
    if recomputed["decision_flips"] != recorded["decision_flips"]:
        passed = False
        detail += (f"; decision flips recomputed {recomputed['decision_flips']}, recorded "
                   f"{recorded['decision_flips']}")
    return Finding("neuron", subject, passed, detail, deviations[worst])


def recompute_neurons(report: dict, model, model_layers: dict, inputs: np.ndarray,
                      labels: np.ndarray, picks: list[tuple[str, int]], providers: list[str],
                      tolerance: float) -> list[Finding]:
    """Recompute each picked neuron by the reference path and compare its statistics.

    `inputs` and `labels` are the report's selected images in report order. Each
    pick gives one finding per analysed class.

    Cost: one onnxruntime session and one full forward pass per picked neuron.
    """
    from nca_onnx.engine.reference import ReferenceEvaluator

    parameters = report["parameters"]
    reference = ReferenceEvaluator(model, parameters["fault"], providers, inputs, labels)
    recorded = {(section["class"], row["layer"], row["index"]): row
                for section in report["results"] for row in section["neurons"]}
    findings = []
    for layer_name, index in picks:
        masked = reference.evaluate(model_layers[layer_name], [index])
        for section in report["results"]:
            label = section["class"]
            recomputed = _statistics(masked, labels == label, parameters["tau"],
                                     parameters["noise_floor"])
            findings.append(_compare(label, layer_name, index,
                                     recorded.get((label, layer_name, index)), recomputed,
                                     tolerance))
        logger.info("recomputed %s[%d]", layer_name, index)
    return findings
