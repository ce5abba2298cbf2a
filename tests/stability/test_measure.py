"""Stability rows on a toy model: each number equals the reference path's, diagnostics found."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import toy_models

from nca_onnx.data.dataset import Dataset, ImageRecord
from nca_onnx.engine.reference import masked_model
from nca_onnx.engine.session import make_session
from nca_onnx.errors import DataError
from nca_onnx.graph.load import load_model
from nca_onnx.graph.neurons import find_layers
from nca_onnx.graph.probability import PROBABILITIES
from nca_onnx.stability.config import StabilityConfig
from nca_onnx.stability.measure import measure_stability

CPU = ["CPUExecutionProvider"]
TOLERANCE = 1e-5
LABEL = 2  # the toy residual model predicts classes 0 and 2 only


def _dataset(inputs: np.ndarray, labels) -> Dataset:
    records = tuple(ImageRecord(f"toy#{row}", "toy", hashlib.sha256(item.tobytes()).hexdigest(),
                                int(label)) for row, (item, label) in enumerate(zip(inputs,
                                                                                    labels)))
    return Dataset(records, np.ascontiguousarray(inputs, dtype=np.float32))


def _probabilities(model, configuration, inputs) -> np.ndarray:
    session = make_session(masked_model(model, configuration, "zero-weights"), CPU)
    return session.run([PROBABILITIES], {model.input_name: inputs})[0]


def _section(ranked) -> dict:
    return {"class": LABEL, "neurons": [{"layer": layer.name, "index": index, "rank": rank}
                                        for rank, (layer, index) in enumerate(ranked, start=1)]}


@pytest.fixture(scope="module")
def toy(toy_folder):
    model = load_model(toy_folder / "residual.onnx")
    layers = find_layers(model.proto)
    ranked = [(layers[2], 1), (layers[0], 3), (layers[3], LABEL), (layers[1], 0)]
    return model, ranked


def _measure(model, ranked, clean, adversarial=None, top=4, cumulative=True):
    return measure_stability(model, [_section(ranked)], clean, {"path": "toy"}, adversarial,
                             {"path": "adv"} if adversarial is not None else None,
                             StabilityConfig(top=top, cumulative=cumulative), "zero-weights",
                             CPU, 1 << 30)


def test_every_row_equals_the_reference_path(toy):
    model, ranked = toy
    inputs = toy_models.inputs("residual", count=12)
    result = _measure(model, ranked, _dataset(inputs, [LABEL] * 12))

    stability = result.classes[0]
    assert stability.single[0].row.label == "no masking" and stability.adversarial_images is None
    for row in (*stability.single, *stability.cumulative):
        expected = _probabilities(model, row.row.configuration, inputs)
        assert row.clean.accuracy == np.mean(expected.argmax(axis=1) == LABEL)
        assert row.clean.mean_confidence == pytest.approx(expected[:, LABEL].mean(),
                                                          abs=TOLERANCE)
        assert row.clean.std_confidence == pytest.approx(expected[:, LABEL].std(),
                                                         abs=TOLERANCE)
        assert row.adversarial is None
    assert [len(row.row.masked) for row in stability.cumulative] == [1, 2, 3, 4]


def test_the_largest_row_is_cross_checked_by_the_reference_path(toy):
    model, ranked = toy
    inputs = toy_models.inputs("residual")

    result = _measure(model, ranked, _dataset(inputs, [LABEL] * len(inputs)))

    assert result.classes[0].crosscheck_row.label == "first 4"
    assert result.crosscheck_passed and result.max_abs_deviation <= TOLERANCE


def test_a_neuron_whose_masking_restores_the_class_is_diagnostic(toy):
    model, ranked = toy
    candidates = toy_models.inputs("residual", count=400, seed=7)
    intact = _probabilities(model, [], candidates).argmax(axis=1)
    masked = _probabilities(model, [ranked[1]], candidates).argmax(axis=1)
    # Adversarial inputs of class LABEL that the intact model misses and the masked one gets.
    restored = candidates[(masked == LABEL) & (intact != LABEL)]
    assert len(restored) > 0, "the toy model gives no such input; pick another neuron or seed"
    clean = _dataset(candidates[:8], [LABEL] * 8)

    result = _measure(model, ranked, clean, _dataset(restored, [LABEL] * len(restored)))

    stability = result.classes[0]
    assert stability.single[0].adversarial.accuracy == 0.0
    diagnostic = {(item.neuron.layer.name, item.neuron.index) for item in result.diagnostic}
    assert (ranked[1][0].name, ranked[1][1]) in diagnostic
    item = next(item for item in result.diagnostic if item.neuron.rank == 2)
    assert item.adversarial_accuracy == 1.0 and item.unmasked_adversarial_accuracy == 0.0
    assert item.row == 2 and item.clean_accuracy == stability.single[2].clean.accuracy


def test_without_an_adversarial_set_no_neuron_is_diagnostic(toy):
    model, ranked = toy
    inputs = toy_models.inputs("residual")

    result = _measure(model, ranked, _dataset(inputs, [LABEL] * len(inputs)), top=2,
                      cumulative=False)

    assert result.diagnostic == () and result.classes[0].cumulative == ()
    assert len(result.classes[0].single) == 3


def test_a_class_without_clean_inputs_is_refused(toy):
    model, ranked = toy
    inputs = toy_models.inputs("residual")

    with pytest.raises(DataError, match=f"the clean set holds no input of class {LABEL}"):
        _measure(model, ranked, _dataset(inputs, [0] * len(inputs)))
