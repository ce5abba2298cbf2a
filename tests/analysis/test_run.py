"""A whole analysis through the Python API: selection, units, statistics and cross-check."""

from __future__ import annotations

import numpy as np
import pytest
import toy_models

from nca_onnx.analysis.checkpoint import CheckpointFolder
from nca_onnx.analysis.config import AnalysisConfig
from nca_onnx.analysis.run import run_analysis, unmasked_probabilities
from nca_onnx.errors import DataError, ParameterError
from nca_onnx.graph.load import load_model


@pytest.fixture
def labelled_inputs(toy_folder, tmp_path):
    """Toy inputs labelled with the toy model's own confident predictions, as an .npz."""
    model = load_model(toy_folder / "residual.onnx")
    inputs = toy_models.inputs("residual", count=60, seed=4) * 3
    probabilities, _ = unmasked_probabilities(model, inputs, ["CPUExecutionProvider"], 1 << 30)
    path = tmp_path / "inputs.npz"
    np.savez(path, inputs=inputs, labels=probabilities.argmax(axis=1))
    classes = np.bincount(probabilities.argmax(axis=1)[probabilities.max(axis=1) > 0.5])
    return path, tuple(int(c) for c in np.argsort(classes)[::-1][:2])


def _config(toy_folder, data, classes, **changes) -> AnalysisConfig:
    values = {"min_confidence": 0.5, "provider": "cpu", **changes}
    return AnalysisConfig(model=toy_folder / "residual.onnx", data=data, classes=classes,
                          **values)


def test_every_neuron_of_every_class_gets_statistics(toy_folder, labelled_inputs):
    data, classes = labelled_inputs

    result = run_analysis(_config(toy_folder, data, classes))

    neurons = sum(layer.neurons for layer in result.layers)
    assert [stats.label for stats in result.statistics] == list(classes)
    assert all(len(stats.neurons) == neurons for stats in result.statistics)
    assert result.crosscheck.passed and len(result.crosscheck.neurons) == 5
    assert result.timings["neuron_image_evaluations"] == neurons * sum(
        stats.images for stats in result.statistics)


def test_rejected_images_are_kept_with_their_reason(toy_folder, labelled_inputs):
    data, classes = labelled_inputs

    result = run_analysis(_config(toy_folder, data, classes[:1]))

    rejected = [verdict for verdict in result.verdicts if not verdict.selected]
    assert rejected and all("--min-confidence" in v.reason or "misclassified" in v.reason
                            for v in rejected)


def test_a_resumed_analysis_reuses_finished_units(toy_folder, labelled_inputs, tmp_path):
    data, classes = labelled_inputs
    config = _config(toy_folder, data, classes)
    first = run_analysis(config, store_factory=lambda key: CheckpointFolder(tmp_path / "c", key))

    resumed = run_analysis(config,
                           store_factory=lambda key: CheckpointFolder(tmp_path / "c", key))

    assert resumed.timings["neuron_image_evaluations"] == 0
    for before, after in zip(first.statistics, resumed.statistics):
        assert before.neurons.equals(after.neurons)


def test_a_checkpoint_of_another_analysis_is_not_mixed_in(toy_folder, labelled_inputs,
                                                          tmp_path):
    data, classes = labelled_inputs
    folder = tmp_path / "c"
    run_analysis(_config(toy_folder, data, classes),
                 store_factory=lambda key: CheckpointFolder(folder, key))

    other = run_analysis(_config(toy_folder, data, classes, fault="dead-output"),
                         store_factory=lambda key: CheckpointFolder(folder, key))

    assert other.timings["neuron_image_evaluations"] > 0


def test_parameters_out_of_range_are_refused(toy_folder, labelled_inputs):
    data, classes = labelled_inputs

    with pytest.raises(ParameterError, match="--tau"):
        run_analysis(_config(toy_folder, data, classes, tau=-0.1))
    with pytest.raises(ParameterError, match="out of range"):
        run_analysis(_config(toy_folder, data, (99,)))


def test_every_image_rejected_is_an_error(toy_folder, labelled_inputs):
    data, classes = labelled_inputs

    with pytest.raises(DataError, match="every image of class"):
        run_analysis(_config(toy_folder, data, classes[:1], min_confidence=0.999999))
