"""Which neurons are masked: the report's ranking, top n, rows alone and together."""

from __future__ import annotations

import pytest

from nca_onnx.errors import ModelError, ParameterError
from nca_onnx.graph.load import load_model
from nca_onnx.graph.neurons import find_layers
from nca_onnx.stability.rows import masking_rows, top_neurons


@pytest.fixture(scope="module")
def layers(toy_folder):
    return {layer.name: layer for layer in find_layers(load_model(toy_folder / "conv.onnx")
                                                       .proto)}


def _section(entries):
    return {"class": 2, "neurons": [{"layer": layer, "index": index, "rank": rank}
                                    for layer, index, rank in entries]}


def test_neurons_are_taken_in_rank_order(layers):
    section = _section([("conv_conv2", 1, 3), ("gemm_logits", 2, 1), ("conv_conv1", 0, 2)])

    chosen = top_neurons(section, 2, layers)

    assert [(n.layer.name, n.index, n.rank) for n in chosen] == [("gemm_logits", 2, 1),
                                                                 ("conv_conv1", 0, 2)]


def test_rows_start_with_no_masking_and_grow_together(layers):
    section = _section([("conv_conv2", 1, 3), ("gemm_logits", 2, 1), ("conv_conv1", 0, 2)])
    neurons = top_neurons(section, 3, layers)

    single, together = masking_rows(neurons, cumulative=True)

    assert [row.label for row in single] == ["no masking", "gemm_logits[2]", "conv_conv1[0]",
                                             "conv_conv2[1]"]
    assert [len(row.masked) for row in together] == [1, 2, 3]
    assert together[2].label == "first 3"
    assert [layer.name for layer, _ in together[2].configuration] == [
        "conv_conv1", "conv_conv2", "gemm_logits"]  # graph order
    assert masking_rows(neurons, cumulative=False)[1] == []


def test_more_neurons_than_the_report_ranks_are_refused(layers):
    with pytest.raises(ParameterError, match=r"--top 4 exceeds the 3 neurons the report ranks "
                                             r"for class 2; pass --top 3 or less"):
        top_neurons(_section([("conv_conv1", 0, 1), ("conv_conv1", 1, 2),
                              ("conv_conv1", 2, 3)]), 4, layers)


def test_a_layer_the_model_lacks_is_refused(layers):
    with pytest.raises(ModelError, match="layer 'elsewhere', which the model does not have"):
        top_neurons(_section([("elsewhere", 0, 1)]), 1, layers)
