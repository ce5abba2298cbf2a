"""Masking configurations in one run agree with the reference path, on toys and EfficientNet."""

from __future__ import annotations

import numpy as np
import pytest
import toy_models
from conftest import EFFICIENTNET

from nca_onnx.engine.multi_fault import MultiFaultEngine, plan_rows
from nca_onnx.engine.reference import masked_model
from nca_onnx.engine.session import make_session
from nca_onnx.errors import ParameterError
from nca_onnx.graph.load import load_model
from nca_onnx.graph.neurons import find_layers
from nca_onnx.graph.probability import PROBABILITIES

CPU = ["CPUExecutionProvider"]
TOLERANCE = 1e-5


def _reference(model, configuration, fault, inputs) -> np.ndarray:
    session = make_session(masked_model(model, configuration, fault), CPU)
    return session.run([PROBABILITIES], {model.input_name: inputs})[0]


def _largest_deviation(model, configurations, fault, inputs, budget=1 << 30) -> float:
    engine = MultiFaultEngine(model, fault, CPU, budget)
    found = engine.probabilities(configurations, inputs)
    assert found.shape == (len(configurations), len(inputs), model.num_classes)
    return max(float(np.abs(found[row] - _reference(model, configuration, fault, inputs)).max())
               for row, configuration in enumerate(configurations))


def _configurations(layers, seed: int = 0) -> list[list]:
    """No masking, one neuron of each layer alone, and two neurons of every layer together."""
    rng = np.random.default_rng(seed)
    alone = [[(layer, int(rng.integers(layer.neurons)))] for layer in layers]
    together = [(layer, int(index)) for layer in layers
                for index in rng.choice(layer.neurons, size=min(2, layer.neurons), replace=False)]
    return [[], *alone, together, together[::2]]


@pytest.mark.parametrize("fault", ["zero-weights", "dead-output"])
@pytest.mark.parametrize("name", toy_models.NAMES)
def test_every_configuration_matches_the_reference_on_toy_models(toy_folder, name, fault):
    model = load_model(toy_folder / f"{name}.onnx")
    layers = find_layers(model.proto)

    deviation = _largest_deviation(model, _configurations(layers), fault,
                                   toy_models.inputs(name))

    assert deviation <= TOLERANCE


def test_a_small_budget_splits_runs_without_changing_results(toy_folder):
    model = load_model(toy_folder / "residual.onnx")
    configurations = _configurations(find_layers(model.proto))
    inputs = toy_models.inputs("residual", count=40)
    # 64 KiB holds 16 rows of the residual suffix: 16 images, one configuration per run.
    engine = MultiFaultEngine(model, "zero-weights", CPU, memory_budget_bytes=1 << 16)

    found = engine.probabilities(configurations, inputs)

    assert engine.counters.runs > 3 * len(configurations)
    for row, configuration in enumerate(configurations):
        expected = _reference(model, configuration, "zero-weights", inputs)
        assert np.abs(found[row] - expected).max() <= TOLERANCE


@pytest.mark.parametrize("fault", ["zero-weights", "dead-output"])
def test_a_sample_of_efficientnet_neurons_across_layers_matches_the_reference(fault):
    model = load_model(EFFICIENTNET)
    layers = find_layers(model.proto)
    picked = [layers[3], layers[len(layers) // 2], layers[-2], layers[-1]]
    inputs = np.random.default_rng(3).uniform(-1, 1, (2, 3, 224, 224)).astype(np.float32)
    together = [(layer, index) for layer in picked for index in (0, layer.neurons - 1)]
    configurations = [[], *([pair] for pair in together[::2]), together]

    deviation = _largest_deviation(model, configurations, fault, inputs)

    assert deviation <= TOLERANCE


def test_without_masking_every_row_is_the_intact_model(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    inputs = toy_models.inputs("conv")

    found = MultiFaultEngine(model, "zero-weights", CPU).probabilities([[], []], inputs)

    np.testing.assert_allclose(found[1], _reference(model, [], "zero-weights", inputs),
                               atol=TOLERANCE)
    np.testing.assert_array_equal(found[0], found[1])


def test_a_neuron_out_of_range_is_refused(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    layer = find_layers(model.proto)[0]

    with pytest.raises(ParameterError, match=f"neuron {layer.neurons} of '{layer.name}'"):
        MultiFaultEngine(model, "zero-weights", CPU).probabilities(
            [[(layer, layer.neurons)]], toy_models.inputs("conv"))


def test_the_plan_fits_the_budget():
    assert plan_rows(1000, 10_000, images=4, configurations=9) == (2, 4)
    assert plan_rows(1000, 10_000, images=40, configurations=9) == (1, 10)
    assert plan_rows(10**9, 10_000, images=40, configurations=9) == (1, 1)
