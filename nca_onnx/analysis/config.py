"""Every parameter of an analysis and its default, in one place for CLI, service and API."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from nca_onnx.data.preprocess import PRESETS
from nca_onnx.engine.cut_engine import DEFAULT_MEMORY_BUDGET_BYTES
from nca_onnx.engine.session import PROVIDER_CHOICES
from nca_onnx.errors import ParameterError
from nca_onnx.graph.neurons import FAULT_MODELS
from nca_onnx.metric.criticality import DEFAULT_NOISE_FLOOR

__all__ = ["AnalysisConfig", "check_common", "raise_first_failure"]

DEFAULT_MIN_CONFIDENCE = 0.8
DEFAULT_CROSSCHECK_NEURONS = 5


def check_common(config) -> list[tuple[bool, str]]:
    """(passed, message) for the options every command that reads data shares.

    `config` has `classes`, `provider`, `memory_budget_bytes` and `preset`.
    """
    classes = config.classes
    return [
        (bool(classes), "pass at least one --class"),
        (all(c >= 0 for c in classes), f"class indices must be >= 0, got {classes}"),
        (len(set(classes)) == len(classes), f"--class repeats: {classes}"),
        (config.provider in PROVIDER_CHOICES,
         f"--provider '{config.provider}' is not known; use one of {PROVIDER_CHOICES}"),
        (config.memory_budget_bytes >= 1 << 20,
         f"--memory-budget must be at least 1 MiB, got {config.memory_budget_bytes} bytes"),
        (config.preset in PRESETS,
         f"--preset '{config.preset}' is not known; use one of {', '.join(sorted(PRESETS))}"),
    ]


def raise_first_failure(checks: list[tuple[bool, str]]) -> None:
    """Raise ParameterError with the message of the first check that failed."""
    for passed, message in checks:
        if not passed:
            raise ParameterError(message)


@dataclass(frozen=True)
class AnalysisConfig:
    """What to analyse and how; the defaults are METHOD.md's.

    `layers` holds glob patterns on node names (empty = all layers);
    `size`, `mean`, `std`, `channel_order` and `resize` override the preset.
    """

    model: Path
    data: Path
    classes: tuple[int, ...]
    tau: float = 0.0
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    max_images: int | None = None
    layers: tuple[str, ...] = ()
    fault: str = "zero-weights"
    provider: str = "auto"
    seed: int = 0
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES
    noise_floor: float = DEFAULT_NOISE_FLOOR
    crosscheck_neurons: int = DEFAULT_CROSSCHECK_NEURONS
    layout: str | None = None
    output: str | None = None
    preset: str = "imagenet"
    size: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    channel_order: str | None = None
    resize: str | None = None

    def validate(self) -> None:
        """Raises ParameterError naming the first parameter out of range."""
        raise_first_failure(check_common(self) + [
            (0.0 <= self.tau <= 1.0, f"--tau must lie in [0, 1], got {self.tau}"),
            (0.0 <= self.min_confidence < 1.0,
             f"--min-confidence must lie in [0, 1), got {self.min_confidence}"),
            (self.max_images is None or self.max_images >= 1,
             f"--max-images must be at least 1, got {self.max_images}"),
            (self.fault in FAULT_MODELS,
             f"--fault '{self.fault}' is not known; use one of {', '.join(FAULT_MODELS)}"),
            (self.seed >= 0, f"--seed must be >= 0, got {self.seed}"),
            (self.noise_floor >= 0.0, f"noise floor must be >= 0, got {self.noise_floor}"),
            (self.crosscheck_neurons >= 1, "the cross-check needs at least 1 neuron"),
        ])

    def parameters(self) -> dict:
        """The parameters section of the evidence report (paths as strings)."""
        values = asdict(self)
        values["model"] = str(self.model)
        values["data"] = str(self.data)
        values["classes"] = list(self.classes)
        values["layers"] = list(self.layers)
        return values
