"""Finished units round-trip through SQLite and belong to one fingerprint."""

from __future__ import annotations

import numpy as np

from nca_onnx.analysis.checkpoint import WorkUnit
from nca_onnx.engine.confidences import MaskedConfidences
from nca_onnx.service.database import Database
from nca_onnx.service.unit_store import SqliteUnitStore, decode_unit, encode_unit

UNIT = WorkUnit("/_fc/Gemm", 0, 3)


def _result() -> MaskedConfidences:
    rng = np.random.default_rng(0)
    return MaskedConfidences("/_fc/Gemm", np.arange(3), *(rng.random((3, 5), np.float32)
                                                         for _ in range(3)))


def _same(a: MaskedConfidences, b: MaskedConfidences) -> bool:
    return a.layer == b.layer and all(
        np.array_equal(getattr(a, name), getattr(b, name)) and
        getattr(a, name).dtype == getattr(b, name).dtype
        for name in ("neurons", "unmasked", "true_class", "best_other"))


def test_encoding_is_lossless():
    assert _same(decode_unit(encode_unit(_result())), _result())


def test_saved_units_load_in_a_later_attempt(tmp_path):
    database = Database(tmp_path / "jobs.sqlite3")
    database.insert_job("j", "{}", max_queued=1)
    SqliteUnitStore(database, "j", "fp", attempt=1).save(UNIT, _result())

    later = SqliteUnitStore(database, "j", "fp", attempt=2)

    assert later.finished_before == 1
    assert _same(later.load(UNIT), _result())
    assert later.reused == 1 and later.last_was_reused
    assert later.load(WorkUnit("/_fc/Gemm", 3, 6)) is None
    database.close()


def test_units_of_another_fingerprint_are_dropped(tmp_path):
    database = Database(tmp_path / "jobs.sqlite3")
    database.insert_job("j", "{}", max_queued=1)
    SqliteUnitStore(database, "j", "old", attempt=1).save(UNIT, _result())

    fresh = SqliteUnitStore(database, "j", "new", attempt=2)

    assert fresh.finished_before == 0
    assert fresh.load(UNIT) is None
    database.close()
