"""Adversarial inputs for the stability analysis (METHOD.md, "Adversarial set")."""

from nca_onnx.adversarial.fgsm import FgsmResult, NonFiniteGradientError, run_fgsm

__all__ = ["FgsmResult", "NonFiniteGradientError", "run_fgsm"]
