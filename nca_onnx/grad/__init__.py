"""Gradients of the classification loss w.r.t. the model input, built as ONNX graphs.

Reverse-mode differentiation over the ONNX nodes: every operator on the path from the input
to the output has one vector-Jacobian-product rule (`rules_*.py`) that emits ONNX nodes, so
the result runs in onnxruntime like the model itself.
"""

from nca_onnx.grad.builder import (
    INPUT_GRAD_OUTPUT,
    LABEL_INPUT,
    LOSS_OUTPUT,
    PROBABILITIES_OUTPUT,
    build_gradient_model,
)
from nca_onnx.grad.registry import supported_operators

__all__ = [
    "INPUT_GRAD_OUTPUT",
    "LABEL_INPUT",
    "LOSS_OUTPUT",
    "PROBABILITIES_OUTPUT",
    "build_gradient_model",
    "supported_operators",
]
