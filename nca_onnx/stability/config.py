"""The parameters of a network stability analysis and their defaults, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nca_onnx.errors import ParameterError

__all__ = ["DEFAULT_TOP", "StabilityConfig"]

DEFAULT_TOP = 20


@dataclass(frozen=True)
class StabilityConfig:
    """What the stability analysis masks and on which sets (METHOD.md, "Network stability").

    `top`: the n most critical neurons of each analysed class, from the report's
    ranking. `cumulative`: also mask the first 1, 2, ..., n together. `adversarial`:
    a folder written by `nca-onnx adversarial` (or its .npz); None measures the clean
    set only.
    """

    top: int = DEFAULT_TOP
    cumulative: bool = False
    adversarial: Path | None = None

    def validate(self) -> None:
        """Raises ParameterError when `top` is below 1."""
        if self.top < 1:
            raise ParameterError("the stability analysis masks at least 1 neuron per class "
                                 f"(--top, --stability-top), got {self.top}")
