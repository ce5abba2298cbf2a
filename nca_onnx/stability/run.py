"""Run a stability analysis from a finished analysis or from a report on disk."""

from __future__ import annotations

import logging
from pathlib import Path

from nca_onnx.data.dataset import ARRAY_SUFFIXES, Dataset
from nca_onnx.errors import ModelError
from nca_onnx.graph.load import LoadedModel
from nca_onnx.stability.config import StabilityConfig
from nca_onnx.stability.measure import ProgressCallback, StabilityResult, measure_stability
from nca_onnx.stability.rows import check_top

__all__ = ["check_report_model", "preflight_analysis", "stability_of_analysis",
           "stability_of_report"]

logger = logging.getLogger(__name__)


def _provenance(path: Path, dataset: Dataset) -> dict:
    return {"path": str(path), "images": len(dataset.records), "inputs_sha256": dataset.digest}


def _adversarial(config: StabilityConfig, classes: list[int], model: LoadedModel):
    if config.adversarial is None:
        return None, None, ()
    from nca_onnx.adversarial.files import read_adversarial_set

    found = read_adversarial_set(config.adversarial, classes, model)
    return found.dataset, found.provenance, found.warnings


def preflight_analysis(analysis, config: StabilityConfig) -> None:
    """Check before an analysis what its stability analysis will need, to fail early.

    `analysis` is an `AnalysisConfig`. Reads the model's layer list (not the images) and
    the adversarial set. Cost: one model load, a fraction of a second for a mobile CNN.

    Raises:
        ParameterError: `top` is larger than the number of neurons analysed.
        DataError: the adversarial set is unreadable, of another shape or misses a class.
        ModelError: the model cannot be read.
    """
    from nca_onnx.errors import ParameterError
    from nca_onnx.graph.load import load_model
    from nca_onnx.graph.neurons import find_layers, select_layers

    config.validate()
    model = load_model(analysis.model, analysis.layout, analysis.output)
    neurons = sum(layer.neurons for layer in select_layers(find_layers(model.proto),
                                                           list(analysis.layers)))
    if config.top > neurons:
        raise ParameterError(f"--stability-top {config.top} exceeds the {neurons} neurons of "
                             f"the analysed layers; pass --stability-top {neurons} or less")
    _adversarial(config, list(analysis.classes), model)


def stability_of_analysis(result, report: dict, config: StabilityConfig,
                          progress: ProgressCallback | None = None) -> StabilityResult:
    """The stability of an analysis just run (`analysis.run.AnalysisResult`).

    The clean set is every input the analysis read for its classes, selected or not;
    the ranking is the one in `report` (built from `result`).

    Raises:
        NcaError: as `measure_stability`, or an unreadable adversarial set.
    """
    from nca_onnx.engine.session import resolve_providers

    analysis = result.config
    adversarial, provenance, warnings = _adversarial(config, list(analysis.classes),
                                                     result.model)
    return measure_stability(result.model, report["results"], result.dataset,
                             _provenance(analysis.data, result.dataset), adversarial,
                             provenance, config, analysis.fault,
                             resolve_providers(analysis.provider), analysis.memory_budget_bytes,
                             warnings, progress)


def check_report_model(report: dict, model_path: Path) -> None:
    """Refuse a model whose SHA-256 is not the one the report records.

    Raises:
        ModelError: the file is missing or is another model.
    """
    from nca_onnx.graph.load import file_sha256

    if not model_path.is_file():
        raise ModelError(f"model file '{model_path}' does not exist; pass --model with the "
                         "model the report was made for")
    recorded = report["model"]["sha256"]
    actual = file_sha256(model_path)
    if actual != recorded:
        raise ModelError(
            f"model '{model_path}' (sha256 {actual[:16]}...) is not the model the report was "
            f"made for (sha256 {recorded[:16]}..., '{report['model']['path']}'); pass --model "
            "with that model"
        )


def _report_preprocessing(report: dict, model: LoadedModel, data: Path):
    from nca_onnx.data.preprocess import resolve_preprocessing

    if data.suffix in ARRAY_SUFFIXES:
        return None
    parameters = report["parameters"]
    return resolve_preprocessing(parameters["preset"], model.image_size, parameters["size"],
                                 parameters["mean"], parameters["std"],
                                 parameters["channel_order"], parameters["resize"])


def stability_of_report(report: dict, model_path: Path | None, data_path: Path | None,
                        config: StabilityConfig, provider: str,
                        memory_budget_bytes: int | None = None,
                        progress: ProgressCallback | None = None) -> StabilityResult:
    """The stability of the classes a checked report analysed, with its ranking.

    The model defaults to the report's path and must have the recorded SHA-256; the
    data default to the report's and are preprocessed with the recorded parameters;
    the fault model is the report's. `memory_budget_bytes` None takes the report's.

    Raises:
        ModelError: the model is missing or not the report's.
        DataError: unreadable data, a shape other than the model input, or a class
            with no input.
        ParameterError: `top` out of range or larger than a class's ranking.
    """
    from nca_onnx.data.dataset import load_dataset
    from nca_onnx.engine.session import resolve_providers
    from nca_onnx.graph.load import load_model

    config.validate()
    check_top(report["results"], config.top)
    parameters = report["parameters"]
    providers = resolve_providers(provider)
    model_path = model_path or Path(report["model"]["path"])
    check_report_model(report, model_path)
    model = load_model(model_path, parameters["layout"], parameters["output"])
    data_path = data_path or Path(parameters["data"])
    classes = [int(section["class"]) for section in report["results"]]
    clean = load_dataset(data_path, classes, _report_preprocessing(report, model, data_path),
                         model.layout, model.input_shape)
    adversarial, provenance, warnings = _adversarial(config, classes, model)
    if report.get("stability"):
        replaced = "the report already held a stability section; this one replaces it"
        warnings = (*warnings, replaced)
    budget = memory_budget_bytes or parameters["memory_budget_bytes"]
    return measure_stability(model, report["results"], clean, _provenance(data_path, clean),
                             adversarial, provenance, config, parameters["fault"], providers,
                             budget, warnings, progress)
