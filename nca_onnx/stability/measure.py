"""Measure network stability: every masking row of a class in one batched engine call."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from nca_onnx.analysis.crosscheck import CROSSCHECK_TOLERANCE
from nca_onnx.data.dataset import Dataset
from nca_onnx.engine.multi_fault import MultiFaultEngine
from nca_onnx.errors import DataError
from nca_onnx.graph.load import LoadedModel
from nca_onnx.graph.neurons import find_layers
from nca_onnx.stability.config import StabilityConfig
from nca_onnx.stability.rows import (
    MaskingRow,
    RankedNeuron,
    check_top,
    masking_rows,
    top_neurons,
)

__all__ = ["ClassStability", "DiagnosticNeuron", "RowMetrics", "RowResult", "StabilityResult",
           "measure_stability"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class RowMetrics:
    """Accuracy (argmax is the class) and the true-class confidence's mean and std (ddof 0)."""

    accuracy: float
    mean_confidence: float
    std_confidence: float


@dataclass(frozen=True)
class RowResult:
    """One masking row measured on the clean set and, when given, the adversarial set."""

    row: MaskingRow
    clean: RowMetrics
    adversarial: RowMetrics | None


@dataclass(frozen=True)
class DiagnosticNeuron:
    """A neuron whose masking alone raised the accuracy on the adversarial set."""

    label: int
    neuron: RankedNeuron
    row: int
    adversarial_accuracy: float
    unmasked_adversarial_accuracy: float
    clean_accuracy: float


@dataclass(frozen=True)
class ClassStability:
    """The stability rows of one class and the reference path's deviation on its largest."""

    label: int
    clean_images: int
    adversarial_images: int | None
    single: tuple[RowResult, ...]
    cumulative: tuple[RowResult, ...]
    crosscheck_row: MaskingRow
    crosscheck_deviation: float


@dataclass(frozen=True)
class StabilityResult:
    """Everything a stability analysis found; the report section and the printout are views."""

    config: StabilityConfig
    fault: str
    classes: tuple[ClassStability, ...]
    diagnostic: tuple[DiagnosticNeuron, ...]
    clean_provenance: dict
    adversarial_provenance: dict | None
    warnings: tuple[str, ...]
    tolerance: float
    timings: dict

    @property
    def max_abs_deviation(self) -> float:
        return max((c.crosscheck_deviation for c in self.classes), default=0.0)

    @property
    def crosscheck_passed(self) -> bool:
        return self.max_abs_deviation <= self.tolerance


def _metrics(probabilities: np.ndarray, label: int) -> RowMetrics:
    """Metrics of one row from its probabilities [N, classes]."""
    confidence = probabilities[:, label].astype(np.float64)
    return RowMetrics(float(np.mean(probabilities.argmax(axis=1) == label)),
                      float(confidence.mean()), float(confidence.std()))


def _class_inputs(dataset: Dataset, label: int, what: str) -> np.ndarray:
    rows = np.flatnonzero(dataset.labels == label)
    if len(rows) == 0:
        raise DataError(f"the {what} set holds no input of class {label}; add images of that "
                        "class or leave the class out")
    return dataset.inputs[rows]


def _reference_deviation(model: LoadedModel, fault: str, providers: list[str],
                         memory_budget_bytes: int, row: MaskingRow, inputs: np.ndarray,
                         engine_probabilities: np.ndarray) -> float:
    """Largest |engine - reference| of the class probabilities for one masking row."""
    from nca_onnx.engine.reference import masked_model
    from nca_onnx.engine.session import make_session
    from nca_onnx.graph.cut import model_bytes_per_row
    from nca_onnx.graph.probability import PROBABILITIES

    session = make_session(masked_model(model, row.configuration, fault), providers)
    chunk = max(1, memory_budget_bytes // model_bytes_per_row(model))
    reference = np.concatenate([
        session.run([PROBABILITIES], {model.input_name: inputs[start:start + chunk]})[0]
        for start in range(0, len(inputs), chunk)])
    return float(np.abs(reference - engine_probabilities).max())


def _measure_class(engine: MultiFaultEngine, model: LoadedModel, section: dict,
                   layers: dict, clean: Dataset, adversarial: Dataset | None,
                   config: StabilityConfig, fault: str, providers: list[str],
                   memory_budget_bytes: int) -> ClassStability:
    label = int(section["class"])
    neurons = top_neurons(section, config.top, layers)
    single, cumulative = masking_rows(neurons, config.cumulative)
    clean_inputs = _class_inputs(clean, label, "clean")
    adversarial_inputs = _class_inputs(adversarial, label, "adversarial") \
        if adversarial is not None else clean_inputs[:0]
    inputs = np.concatenate([clean_inputs, adversarial_inputs])

    # Single row 1 and cumulative row 1 mask the same neuron: evaluate each set once.
    unique: dict[tuple, int] = {}
    for row in single + cumulative:
        unique.setdefault(row.configuration, len(unique))
    probabilities = engine.probabilities(list(unique), inputs)
    split = len(clean_inputs)

    def result(row: MaskingRow) -> RowResult:
        found = probabilities[unique[row.configuration]]
        return RowResult(row, _metrics(found[:split], label),
                         _metrics(found[split:], label) if adversarial is not None else None)

    checked = (cumulative or single)[-1]
    deviation = _reference_deviation(model, fault, providers, memory_budget_bytes, checked,
                                     inputs, probabilities[unique[checked.configuration]])
    logger.info("class %d: %d masking configurations on %d clean and %d adversarial inputs",
                label, len(unique), split, len(adversarial_inputs))
    adversarial_count = len(adversarial_inputs) if adversarial is not None else None
    return ClassStability(label, split, adversarial_count,
                          tuple(result(row) for row in single),
                          tuple(result(row) for row in cumulative), checked, deviation)


def _diagnostic(stability: ClassStability) -> list[DiagnosticNeuron]:
    """Single rows whose adversarial accuracy is above the unmasked row's (METHOD.md)."""
    unmasked = stability.single[0].adversarial
    if unmasked is None:
        return []
    return [DiagnosticNeuron(stability.label, row.row.masked[0], row.row.row,
                             row.adversarial.accuracy, unmasked.accuracy, row.clean.accuracy)
            for row in stability.single[1:] if row.adversarial.accuracy > unmasked.accuracy]


def measure_stability(model: LoadedModel, results: Sequence[dict], clean: Dataset,
                      clean_provenance: dict, adversarial: Dataset | None,
                      adversarial_provenance: dict | None, config: StabilityConfig, fault: str,
                      providers: list[str], memory_budget_bytes: int,
                      warnings: Sequence[str] = (),
                      progress: ProgressCallback | None = None) -> StabilityResult:
    """Mask the `config.top` most critical neurons of each class, alone and cumulatively.

    `results` are the report's class sections (their ranking chooses the neurons).
    All rows of a class ("no masking", each neuron alone, the first 1..n together)
    run through one multi-fault graph, clean and adversarial inputs together, so
    every number comes from the same kernels. The largest row of each class is
    recomputed by the reference path (filters zeroed in the initializers).

    Cost: per class, one pass of the intact model up to the earliest masked layer, then
    (2n + 1) x (clean + adversarial images) rows through the rest, plus one full forward
    pass of the reference path.

    Raises:
        ParameterError: `top` out of range, or larger than a class's ranking.
        ModelError: a ranked layer is not in the model or does not reach its output.
        DataError: a set holds no input of an analysed class.
    """
    config.validate()
    check_top(list(results), config.top)
    started = time.perf_counter()
    layers = {layer.name: layer for layer in find_layers(model.proto)}
    engine = MultiFaultEngine(model, fault, providers, memory_budget_bytes)
    classes = []
    for done, section in enumerate(results, start=1):
        classes.append(_measure_class(engine, model, section, layers, clean, adversarial,
                                      config, fault, providers, memory_budget_bytes))
        if progress is not None:
            progress(done, len(results))
    diagnostic = [item for stability in classes for item in _diagnostic(stability)]
    timings = {
        "total_s": round(time.perf_counter() - started, 4),
        "engine_setup_s": round(engine.counters.setup_s, 4),
        "engine_onnxruntime_s": round(engine.counters.runtime_s, 4),
        "engine_runs": engine.counters.runs,
        "row_image_evaluations": engine.counters.evaluations,
    }
    return StabilityResult(config, fault, tuple(classes), tuple(diagnostic), clean_provenance,
                           adversarial_provenance, tuple(warnings), CROSSCHECK_TOLERANCE,
                           timings)
