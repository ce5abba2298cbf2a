"""The bytes of a neuron's filter: exactly the slice the reference path zeroes."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest
import toy_models
from onnx import TensorProto, helper, numpy_helper

from nca_onnx.engine.reference import faulty_model
from nca_onnx.evidence.filters import bias_index, filter_checksums, filter_index, layer_arrays
from nca_onnx.graph.load import load_model
from nca_onnx.graph.neurons import find_layers


def _gemm_without_transpose(folder) -> str:
    """Input [N, 3, 2, 2] -> Flatten -> Gemm with W [12, 5] and transB = 0."""
    rng = np.random.default_rng(3)
    weight = numpy_helper.from_array(rng.normal(size=(12, 5)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=(1, 5)).astype(np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["input"], ["flat"], name="flatten"),
         helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], name="gemm", transB=0)],
        "gemm", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 2, 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])], [weight, bias])
    path = folder / "gemm_plain.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return str(path)


def _zeroed_mask(model, layer, neuron) -> np.ndarray:
    """Where the reference path's faulty model differs from the intact weight."""
    proto = faulty_model(model, layer, neuron, "zero-weights")
    faulty = next(t for t in proto.graph.initializer if t.name == f"{layer.weight}__nca_fault")
    intact, _, _ = layer_arrays(model.proto, layer)
    return numpy_helper.to_array(faulty) != intact


def _models(folder) -> list[str]:
    return [str(folder / f"{name}.onnx") for name in toy_models.NAMES]


@pytest.fixture(scope="module")
def models(toy_folder, tmp_path_factory):
    return _models(toy_folder) + [_gemm_without_transpose(tmp_path_factory.mktemp("gemm"))]


def test_the_hashed_slice_is_the_slice_the_reference_path_zeroes(models):
    checked = set()
    for path in models:
        model = load_model(path)
        for layer in find_layers(model.proto):
            weight, _, transposed_b = layer_arrays(model.proto, layer)
            for neuron in sorted({0, layer.neurons // 2, layer.neurons - 1}):
                selected = np.zeros(weight.shape, dtype=bool)
                selected[filter_index(weight.shape, layer.op_type, layer.groups, neuron,
                                      transposed_b)] = True
                assert np.array_equal(selected, _zeroed_mask(model, layer, neuron)), \
                    f"{path} {layer.name}[{neuron}]"
            checked.add((layer.op_type, transposed_b, layer.groups > 1))

    assert {("Conv", False, False), ("Conv", False, True), ("ConvTranspose", False, True),
            ("Gemm", True, False), ("Gemm", False, False), ("MatMul", False, False)} <= checked


def test_the_checksum_is_of_little_endian_bytes_in_c_order(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    layer = find_layers(model.proto)[0]
    weight, bias, transposed_b = layer_arrays(model.proto, layer)

    checksum = filter_checksums(layer, weight, bias, transposed_b, 2)

    expected = np.ascontiguousarray(weight[2]).astype("<f4").tobytes()
    assert checksum.weight_sha256 == hashlib.sha256(expected).hexdigest()
    assert checksum.weight_bytes == len(expected)
    assert checksum.weight_slice == "[2, :, :, :]"
    assert checksum.bias_sha256 == hashlib.sha256(bias[2:3].astype("<f4").tobytes()).hexdigest()
    assert checksum.dtype == "float32"


def test_neighbouring_neurons_have_different_checksums(toy_folder):
    model = load_model(toy_folder / "conv.onnx")
    layer = find_layers(model.proto)[0]
    arrays = layer_arrays(model.proto, layer)

    sums = {filter_checksums(layer, *arrays, n).weight_sha256 for n in range(layer.neurons)}

    assert len(sums) == layer.neurons


@pytest.mark.parametrize("shape, expected", [((6,), (..., 4)), ((1, 6), (..., 4)),
                                             ((1,), None), ((), None)])
def test_a_bias_shared_by_all_neurons_is_hashed_whole(shape, expected):
    assert bias_index(shape, 6, 4) == expected
