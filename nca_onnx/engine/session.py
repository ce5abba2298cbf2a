"""Create onnxruntime sessions on the execution provider the user asked for."""

from __future__ import annotations

import logging

import onnx
import onnxruntime as ort

from nca_onnx.errors import RuntimeProviderError

__all__ = ["PROVIDER_CHOICES", "make_session", "resolve_providers"]

logger = logging.getLogger(__name__)

PROVIDER_CHOICES = ("auto", "cpu", "cuda", "tensorrt")
_CPU = "CPUExecutionProvider"
_CUDA = "CUDAExecutionProvider"
_TENSORRT = "TensorrtExecutionProvider"


def resolve_providers(provider: str) -> list[str]:
    """The onnxruntime provider list for a --provider choice, CPU always last.

    Raises:
        RuntimeProviderError: the choice is unknown or its provider is not installed.
    """
    available = ort.get_available_providers()
    if provider == "auto":
        return [_CUDA, _CPU] if _CUDA in available else [_CPU]
    if provider == "cpu":
        return [_CPU]
    wanted = {"cuda": [_CUDA], "tensorrt": [_TENSORRT, _CUDA]}.get(provider)
    if wanted is None:
        raise RuntimeProviderError(
            f"provider '{provider}' is not known; use one of {', '.join(PROVIDER_CHOICES)}"
        )
    missing = [name for name in wanted if name not in available]
    if missing:
        raise RuntimeProviderError(
            f"provider '{provider}' needs {missing[0]}, which this onnxruntime does not have "
            f"(available: {available}); install the GPU extra: pip install 'nca-onnx[gpu]'"
        )
    return wanted + [_CPU]


def make_session(model: onnx.ModelProto | bytes, providers: list[str]) -> ort.InferenceSession:
    """A new session for a model held in memory.

    Cost: serialises the model and runs onnxruntime's graph optimisation, which
    takes tens of milliseconds for a small CNN.
    """
    payload = model if isinstance(model, bytes) else model.SerializeToString()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(payload, sess_options=options, providers=providers)
    logger.debug("session on %s", session.get_providers()[0])
    return session
