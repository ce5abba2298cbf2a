"""The engine's batching plan and its bookkeeping."""

from __future__ import annotations

import numpy as np
import toy_models

from nca_onnx.engine.cut_engine import CutEngine, plan_batch
from nca_onnx.graph.load import load_model
from nca_onnx.graph.neurons import find_layers


def test_plan_fits_the_baseline_and_neurons_into_the_budget():
    neurons, images = plan_batch(bytes_per_row=1000, memory_budget_bytes=100_000, images=20,
                                 neurons=64)

    assert (neurons + 1) * images * 1000 <= 100_000
    assert (neurons, images) == (64, 1)


def test_plan_splits_images_rather_than_shrink_k():
    neurons, images = plan_batch(bytes_per_row=1000, memory_budget_bytes=10_000, images=150,
                                 neurons=64)

    # 10 rows: nine neurons and the baseline on one image beat one neuron on five.
    assert (neurons, images) == (9, 1)


def test_plan_keeps_every_image_when_the_whole_unit_fits():
    neurons, images = plan_batch(bytes_per_row=1000, memory_budget_bytes=10_000_000,
                                 images=16, neurons=64)

    assert (neurons, images) == (64, 16)


def test_engine_counts_evaluations_and_reuses_the_prepared_layer(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    layers = find_layers(model.proto)
    inputs = toy_models.inputs("conv", count=4)
    engine = CutEngine(model, "zero-weights", ["CPUExecutionProvider"], inputs,
                       np.zeros(4, dtype=np.int64), layers)

    first = engine.evaluate(layers[1], [0, 1, 2])
    engine.evaluate(layers[1], [3, 4, 5])

    assert engine.counters.evaluations == 6 * 4
    assert list(engine.counters.layer_setups) == [layers[1].name]
    assert first.true_class.shape == (3, 4)
    assert np.array_equal(first.unmasked[0], first.unmasked[2])
