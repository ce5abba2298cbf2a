"""Run a whole analysis: load, select the test set, evaluate every unit, summarise, check."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort

from nca_onnx.analysis.checkpoint import UnitStore, WorkUnit, plan_units
from nca_onnx.analysis.config import AnalysisConfig
from nca_onnx.analysis.crosscheck import CrossCheck, cross_check, pick_neurons
from nca_onnx.data.dataset import Dataset, load_dataset
from nca_onnx.data.preprocess import Preprocessing, resolve_preprocessing
from nca_onnx.data.selection import ImageVerdict, select_images
from nca_onnx.engine.confidences import MaskedConfidences
from nca_onnx.engine.cut_engine import CutEngine, EngineCounters
from nca_onnx.engine.reference import ReferenceEvaluator
from nca_onnx.engine.session import make_session, resolve_providers
from nca_onnx.errors import DataError
from nca_onnx.graph.cut import model_bytes_per_row
from nca_onnx.graph.load import LoadedModel, load_model
from nca_onnx.graph.neurons import Layer, find_layers, select_layers
from nca_onnx.graph.probability import PROBABILITIES, with_probabilities
from nca_onnx.metric.statistics import ClassStatistics, summarise_class

__all__ = ["AnalysisResult", "ProgressCallback", "run_analysis", "unmasked_probabilities"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[WorkUnit, int, int], None]
StoreFactory = Callable[[str], UnitStore]


@dataclass(frozen=True)
class AnalysisResult:
    """Everything an analysis found; the report, tables and summary are views of it."""

    config: AnalysisConfig
    model: LoadedModel
    preprocessing: Preprocessing
    dataset: Dataset
    verdicts: tuple[ImageVerdict, ...]
    layers: tuple[Layer, ...]
    statistics: tuple[ClassStatistics, ...]
    crosscheck: CrossCheck
    runtime: dict
    timings: dict


def unmasked_probabilities(model: LoadedModel, inputs: np.ndarray, providers: list[str],
                           memory_budget_bytes: int) -> tuple[np.ndarray, str]:
    """Class probabilities of the intact model, and the provider that computed them."""
    session = make_session(
        with_probabilities(model.proto, model.output_name, model.output_is_probability),
        providers)
    chunk = max(1, memory_budget_bytes // model_bytes_per_row(model))
    parts = [session.run([PROBABILITIES], {model.input_name: inputs[start:start + chunk]})[0]
             for start in range(0, len(inputs), chunk)]
    return np.concatenate(parts), session.get_providers()[0]


def _check_selection(config: AnalysisConfig, dataset: Dataset,
                     verdicts: list[ImageVerdict]) -> np.ndarray:
    selected = np.array([v.index for v in verdicts if v.selected], dtype=np.int64)
    labels = dataset.labels
    for label in config.classes:
        own = [v for v in verdicts if labels[v.index] == label]
        if not any(v.selected for v in own):
            best = max((v.confidence for v in own), default=0.0)
            raise DataError(
                f"every image of class {label} was rejected ({len(own)} images, best "
                f"confidence {best:.3f}, --min-confidence {config.min_confidence}); "
                "add images the model classifies confidently or lower --min-confidence"
            )
    return selected


def _fingerprint(model: LoadedModel, dataset: Dataset, selected: np.ndarray,
                 config: AnalysisConfig, providers: list[str]) -> str:
    identity = {
        "model": model.sha256,
        "inputs": [dataset.records[i].sha256 for i in selected],
        "labels": [dataset.records[i].label for i in selected],
        "fault": config.fault,
        "providers": providers,
        "preprocessing": [config.preset, config.size, config.mean, config.std,
                          config.channel_order, config.resize],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _evaluate_units(engine: CutEngine, layers: list[Layer], store: UnitStore | None,
                    progress: ProgressCallback | None) -> dict[str, MaskedConfidences]:
    by_name = {layer.name: layer for layer in layers}
    units = plan_units(layers)
    total = sum(layer.neurons for layer in layers)
    done = 0
    parts: dict[str, list[MaskedConfidences]] = {layer.name: [] for layer in layers}
    for unit in units:
        result = store.load(unit) if store is not None else None
        if result is None:
            result = engine.evaluate(by_name[unit.layer], range(unit.start, unit.stop))
            if store is not None:
                store.save(unit, result)
        parts[unit.layer].append(result)
        done += unit.stop - unit.start
        if progress is not None:
            progress(unit, done, total)
    return {name: MaskedConfidences.concatenate(chunks) for name, chunks in parts.items()}


def _runtime(provider: str, providers: list[str]) -> dict:
    return {
        "onnxruntime": ort.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "execution_provider": provider,
        "requested_providers": providers,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def _timings(marks: dict[str, float], counters: EngineCounters) -> dict:
    evaluations_per_s = counters.evaluations / marks["analysis_s"] if marks["analysis_s"] else 0
    return {
        **{key: round(value, 4) for key, value in marks.items()},
        "engine_setup_s": round(counters.setup_s, 4),
        "engine_onnxruntime_s": round(counters.runtime_s, 4),
        "engine_runs": counters.runs,
        "neuron_image_evaluations": counters.evaluations,
        "evaluations_per_s": round(evaluations_per_s, 1),
    }


def run_analysis(config: AnalysisConfig, progress: ProgressCallback | None = None,
                 store_factory: StoreFactory | None = None) -> AnalysisResult:
    """Neurons' Criticality Analysis of every selected layer, per METHOD.md.

    Args:
        config: what to analyse; validated first.
        progress: called after each work unit with (unit, neurons done, total).
        store_factory: given the analysis fingerprint, returns where finished units
            are kept so that an interrupted analysis resumes; None keeps nothing.

    Raises:
        NcaError: any bad input, with a message that says what to change.
    """
    config.validate()
    providers = resolve_providers(config.provider)
    marks: dict[str, float] = {}
    started = time.perf_counter()

    model = load_model(config.model, config.layout, config.output)
    model.check_classes(config.classes)
    layers = select_layers(find_layers(model.proto), list(config.layers))
    marks["load_s"] = time.perf_counter() - started

    preprocessing = resolve_preprocessing(config.preset, model.image_size, config.size,
                                          config.mean, config.std, config.channel_order,
                                          config.resize)
    dataset = load_dataset(config.data, list(config.classes), preprocessing, model.layout,
                           model.input_shape)
    probabilities, provider = unmasked_probabilities(model, dataset.inputs, providers,
                                                     config.memory_budget_bytes)
    verdicts = select_images(dataset, probabilities, config.min_confidence, config.max_images)
    selected = _check_selection(config, dataset, verdicts)
    marks["data_s"] = time.perf_counter() - started - marks["load_s"]
    logger.info("selected %d of %d images; %d layers, %d neurons", len(selected),
                len(verdicts), len(layers), sum(layer.neurons for layer in layers))

    inputs, labels = dataset.inputs[selected], dataset.labels[selected]
    engine = CutEngine(model, config.fault, providers, inputs, labels, layers,
                       config.memory_budget_bytes)
    store = None
    if store_factory is not None:
        store = store_factory(_fingerprint(model, dataset, selected, config, providers))
    mark = time.perf_counter()
    scores = _evaluate_units(engine, layers, store, progress)
    statistics = [summarise_class(label, layers, [scores[layer.name] for layer in layers],
                                  labels, config.tau, config.noise_floor)
                  for label in config.classes]
    marks["analysis_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    reference = ReferenceEvaluator(model, config.fault, providers, inputs, labels)
    picks = pick_neurons(statistics, layers, config.crosscheck_neurons, config.seed)
    check = cross_check(reference, layers, scores, picks)
    marks["crosscheck_s"] = time.perf_counter() - mark
    marks["total_s"] = time.perf_counter() - started
    logger.info("cross-check of %d neurons: largest deviation %.3g", len(picks),
                check.max_abs_deviation)

    return AnalysisResult(config, model, preprocessing, dataset, tuple(verdicts), tuple(layers),
                          tuple(statistics), check, _runtime(provider, providers),
                          _timings(marks, engine.counters))
