"""Work units of an analysis and a folder that keeps finished ones across interruptions."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from nca_onnx.engine.confidences import MaskedConfidences
from nca_onnx.graph.neurons import Layer

__all__ = ["CheckpointFolder", "UnitStore", "WorkUnit", "plan_units"]

logger = logging.getLogger(__name__)

DEFAULT_UNIT_NEURONS = 64


@dataclass(frozen=True)
class WorkUnit:
    """Neurons [start, stop) of one layer; units are independent of each other."""

    layer: str
    start: int
    stop: int

    @property
    def key(self) -> str:
        return f"{self.layer}:{self.start}-{self.stop}"


class UnitStore(Protocol):
    """Where finished units are kept: a folder for the CLI, a database for the service."""

    def load(self, unit: WorkUnit) -> MaskedConfidences | None: ...

    def save(self, unit: WorkUnit, result: MaskedConfidences) -> None: ...


def plan_units(layers: list[Layer], unit_neurons: int = DEFAULT_UNIT_NEURONS) -> list[WorkUnit]:
    """The units covering every neuron of the layers, layer by layer."""
    return [WorkUnit(layer.name, start, min(start + unit_neurons, layer.neurons))
            for layer in layers for start in range(0, layer.neurons, unit_neurons)]


class CheckpointFolder:
    """Finished units as .npz files, valid only for the same fingerprint.

    The fingerprint covers whatever changes the numbers (model, inputs, fault model,
    provider); a folder left by another analysis is emptied, not mixed in.
    """

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        stamp = folder / "fingerprint.json"
        previous = json.loads(stamp.read_text()) if stamp.exists() else None
        if previous != {"fingerprint": fingerprint}:
            for stale in folder.glob("*.npz"):
                stale.unlink()
            stamp.write_text(json.dumps({"fingerprint": fingerprint}))
        else:
            logger.info("resuming: %d finished units in %s", len(list(folder.glob("*.npz"))),
                        folder)

    def _path(self, unit: WorkUnit) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in unit.layer)
        return self._folder / f"{safe}-{unit.start}-{unit.stop}.npz"

    def load(self, unit: WorkUnit) -> MaskedConfidences | None:
        path = self._path(unit)
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["layer"]) != unit.layer:
                return None
            return MaskedConfidences(unit.layer, saved["neurons"], saved["unmasked"],
                                     saved["true_class"], saved["best_other"])

    def save(self, unit: WorkUnit, result: MaskedConfidences) -> None:
        path = self._path(unit)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, layer=unit.layer, neurons=result.neurons, unmasked=result.unmasked,
                 true_class=result.true_class, best_other=result.best_other)
        os.replace(partial, path)
