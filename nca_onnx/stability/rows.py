"""Which neurons a stability analysis masks, and the masking rows built from them."""

from __future__ import annotations

from dataclasses import dataclass

from nca_onnx.errors import ModelError, ParameterError
from nca_onnx.graph.neurons import Layer

__all__ = ["MaskingRow", "RankedNeuron", "check_top", "masking_rows", "top_neurons"]

NO_MASKING = "no masking"


@dataclass(frozen=True)
class RankedNeuron:
    """One neuron of the ranking: its layer, index and rank (1 = most critical)."""

    layer: Layer
    index: int
    rank: int

    @property
    def label(self) -> str:
        return f"{self.layer.name}[{self.index}]"


@dataclass(frozen=True)
class MaskingRow:
    """One row of the stability table: `kind` single or cumulative, n and what it masks.

    Row 0 (single) masks nothing; single row n masks the n-th neuron alone,
    cumulative row n the first n together.
    """

    kind: str
    row: int
    masked: tuple[RankedNeuron, ...]

    @property
    def label(self) -> str:
        if not self.masked:
            return NO_MASKING
        return self.masked[0].label if self.kind == "single" else f"first {self.row}"

    @property
    def configuration(self) -> tuple[tuple[Layer, int], ...]:
        """The (layer, index) pairs failed together, in a canonical order."""
        return tuple(sorted(((n.layer, n.index) for n in self.masked),
                            key=lambda pair: (pair[0].position, pair[1])))


def check_top(results: list[dict], top: int) -> None:
    """Refuse a `top` larger than the ranking of any class section of a report.

    Raises:
        ParameterError: the report ranks fewer than `top` neurons for some class.
    """
    for section in results:
        ranked = len(section["neurons"])
        if top > ranked:
            raise ParameterError(
                f"--top {top} exceeds the {ranked} neurons the report ranks for class "
                f"{section['class']}; pass --top {ranked} or less"
            )


def top_neurons(section: dict, top: int, layers: dict[str, Layer]) -> list[RankedNeuron]:
    """The `top` most critical neurons of one class section of a report, by rank.

    Raises:
        ParameterError: the report ranks fewer than `top` neurons for the class.
        ModelError: a ranked neuron's layer is not a layer of the model.
    """
    check_top([section], top)
    ranked = sorted(section["neurons"], key=lambda row: row["rank"])
    chosen = []
    for row in ranked[:top]:
        layer = layers.get(row["layer"])
        if layer is None:
            raise ModelError(f"the report ranks neuron {row['index']} of layer '{row['layer']}', "
                             "which the model does not have; pass the model the report was "
                             "made for")
        chosen.append(RankedNeuron(layer, int(row["index"]), int(row["rank"])))
    return chosen


def masking_rows(neurons: list[RankedNeuron],
                 cumulative: bool) -> tuple[list[MaskingRow], list[MaskingRow]]:
    """(single rows 0..n, cumulative rows 1..n or none); row 0 is "no masking"."""
    single = [MaskingRow("single", 0, ())]
    single += [MaskingRow("single", n, (neuron,)) for n, neuron in enumerate(neurons, start=1)]
    together = [MaskingRow("cumulative", n, tuple(neurons[:n]))
                for n in range(1, len(neurons) + 1)] if cumulative else []
    return single, together
