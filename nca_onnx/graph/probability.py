"""Make a model output class probabilities, whatever it ended in."""

from __future__ import annotations

import onnx
from onnx import helper

__all__ = ["PROBABILITIES", "probability_nodes", "with_probabilities"]

PROBABILITIES = "nca_probabilities"


def probability_nodes(output_name: str, output_is_probability: bool) -> list[onnx.NodeProto]:
    """Nodes that turn the model's score output into the tensor PROBABILITIES.

    A model that ends in Softmax is used as is (METHOD.md, "Confidence"); otherwise
    softmax is applied over the class axis of the [batch, classes] scores.
    """
    if output_is_probability:
        return [helper.make_node("Identity", [output_name], [PROBABILITIES],
                                 name="nca_probabilities_identity")]
    return [helper.make_node("Softmax", [output_name], [PROBABILITIES], axis=1,
                             name="nca_probabilities_softmax")]


def with_probabilities(proto: onnx.ModelProto, output_name: str,
                       output_is_probability: bool) -> onnx.ModelProto:
    """A copy of the model whose only output is PROBABILITIES [batch, classes]."""
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    model.graph.node.extend(probability_nodes(output_name, output_is_probability))
    del model.graph.output[:]
    model.graph.output.append(
        helper.make_tensor_value_info(PROBABILITIES, onnx.TensorProto.FLOAT, None)
    )
    return model
