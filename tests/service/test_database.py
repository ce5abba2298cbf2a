"""The job database keeps accepted jobs and finished units, and bounds the queue."""

from __future__ import annotations

import pytest

from nca_onnx.errors import CapacityError, NotFoundError
from nca_onnx.service.database import Database


@pytest.fixture
def database(tmp_path):
    opened = Database(tmp_path / "jobs.sqlite3")
    yield opened
    opened.close()


def test_uses_write_ahead_logging(tmp_path, database):
    import sqlite3

    with sqlite3.connect(tmp_path / "jobs.sqlite3") as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_refuses_jobs_beyond_the_queue_limit(database):
    database.insert_job("a", "{}", max_queued=2)
    database.insert_job("b", "{}", max_queued=2)

    with pytest.raises(CapacityError, match="queue is full"):
        database.insert_job("c", "{}", max_queued=2)
    assert database.claim("a").state == "running"
    database.insert_job("c", "{}", max_queued=2)


def test_jobs_and_units_survive_reopening(tmp_path, database):
    database.insert_job("a", "{}", max_queued=5)
    database.claim("a")
    database.save_unit("a", "L:0-64", "fp", 1, b"payload")
    database.close()

    reopened = Database(tmp_path / "jobs.sqlite3")

    assert reopened.requeue_running() == ["a"]
    assert reopened.queued_ids() == ["a"]
    assert reopened.load_unit("a", "L:0-64", "fp") == b"payload"
    assert reopened.claim("a").attempt == 2
    reopened.close()


def test_cancel_ends_a_queued_job_and_flags_a_running_one(database):
    database.insert_job("q", "{}", max_queued=5)
    database.insert_job("r", "{}", max_queued=5)
    database.claim("r")

    assert database.request_cancel("q").state == "cancelled"
    flagged = database.request_cancel("r")
    assert (flagged.state, flagged.cancel_requested) == ("running", True)
    assert database.claim("q") is None


def test_a_cancel_requested_before_a_crash_is_honoured(database):
    database.insert_job("r", "{}", max_queued=5)
    database.claim("r")
    database.request_cancel("r")

    assert database.cancel_flagged() == ["r"]
    assert database.job("r").state == "cancelled"


def test_lists_newest_first_in_pages(database):
    for name in "abcde":
        database.insert_job(name, "{}", max_queued=10)

    first = database.list_jobs((), None, 2)
    second = database.list_jobs((), first[-1].seq, 2)

    assert [row.id for row in first + second] == ["e", "d", "c", "b"]


def test_unknown_job_is_not_found(database):
    with pytest.raises(NotFoundError, match="'zz' does not exist"):
        database.job("zz")


def test_finishing_a_job_drops_its_units(database):
    database.insert_job("a", "{}", max_queued=5)
    database.claim("a")
    database.save_unit("a", "L:0-64", "fp", 1, b"payload")

    database.finish("a", "succeeded", outputs={"report.json": "f" * 64})

    assert database.load_unit("a", "L:0-64", "fp") is None
    assert database.job("a").outputs == {"report.json": "f" * 64}
