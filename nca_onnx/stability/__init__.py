"""Network stability analysis (METHOD.md): mask the most critical neurons, alone and together,
and measure accuracy and confidence on the clean and adversarial sets.

Only the light configuration is imported here, so that the command line starts fast;
`measure`, `run` and `section` load onnxruntime and numpy and are imported from their
own modules.
"""

from nca_onnx.stability.config import DEFAULT_TOP, StabilityConfig

__all__ = ["DEFAULT_TOP", "StabilityConfig"]
