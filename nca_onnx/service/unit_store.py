"""The core's UnitStore on the job database: finished work units survive a crash."""

from __future__ import annotations

import io
import logging

import numpy as np

from nca_onnx.analysis.checkpoint import WorkUnit
from nca_onnx.engine.confidences import MaskedConfidences
from nca_onnx.service.database import Database

__all__ = ["SqliteUnitStore", "decode_unit", "encode_unit"]

logger = logging.getLogger(__name__)

_ARRAYS = ("neurons", "unmasked", "true_class", "best_other")


def encode_unit(result: MaskedConfidences) -> bytes:
    """The arrays of a unit as .npz bytes (no pickling)."""
    buffer = io.BytesIO()
    np.savez(buffer, layer=np.array(result.layer),
             **{name: getattr(result, name) for name in _ARRAYS})
    return buffer.getvalue()


def decode_unit(payload: bytes) -> MaskedConfidences:
    """The inverse of encode_unit."""
    with np.load(io.BytesIO(payload), allow_pickle=False) as saved:
        return MaskedConfidences(str(saved["layer"]), *(saved[name] for name in _ARRAYS))


class SqliteUnitStore:
    """Finished units of one job attempt, valid only for the analysis fingerprint.

    Units saved under another fingerprint (the inputs changed) are dropped, not mixed
    in. `reused` counts units loaded instead of computed in this attempt.
    """

    def __init__(self, database: Database, job_id: str, fingerprint: str, attempt: int) -> None:
        self._database = database
        self._job_id = job_id
        self._fingerprint = fingerprint
        self._attempt = attempt
        self.finished_before = database.keep_units(job_id, fingerprint)
        self.reused = 0
        self.last_was_reused = False

    def load(self, unit: WorkUnit) -> MaskedConfidences | None:
        payload = self._database.load_unit(self._job_id, unit.key, self._fingerprint)
        result = None if payload is None else decode_unit(payload)
        if result is not None and result.layer != unit.layer:
            result = None
        self.last_was_reused = result is not None
        self.reused += result is not None
        return result

    def save(self, unit: WorkUnit, result: MaskedConfidences) -> None:
        self._database.save_unit(self._job_id, unit.key, self._fingerprint, self._attempt,
                                 encode_unit(result))
        logger.debug("job %s: saved unit %s", self._job_id, unit.key)
