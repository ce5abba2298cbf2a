"""The job database: one SQLite file in WAL mode holding jobs and their finished work units.

Every write commits before the call returns (synchronous=FULL), so a job the server
accepted and a unit it finished survive a crash or a power cut.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from nca_onnx.errors import CapacityError, NotFoundError

__all__ = ["ACTIVE_STATES", "Database", "JobRow", "TERMINAL_STATES"]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000
ACTIVE_STATES = ("queued", "running")
TERMINAL_STATES = ("succeeded", "failed", "cancelled")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    request TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    attempt INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    layer TEXT NOT NULL DEFAULT '',
    neurons_done INTEGER NOT NULL DEFAULT 0,
    neurons_total INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_message TEXT,
    crosscheck_passed INTEGER,
    outputs TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs (state, seq);
CREATE TABLE IF NOT EXISTS units (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    unit TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    saved REAL NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (job_id, unit)
);
"""


@dataclass(frozen=True)
class JobRow:
    """One job as stored; `request` is the StartAnalysisRequest as JSON text.

    `outputs` maps an output file name (report.json, neurons.csv, layers.csv) to the
    SHA-256 of its bytes in the blob store.
    """

    seq: int
    id: str
    state: str
    request: str
    created: float
    started: float | None
    finished: float | None
    attempt: int
    cancel_requested: bool
    layer: str
    neurons_done: int
    neurons_total: int
    error_code: str | None
    error_message: str | None
    crosscheck_passed: bool | None
    outputs: dict[str, str]

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES


def _row(values: sqlite3.Row) -> JobRow:
    fields = dict(values)
    fields["cancel_requested"] = bool(fields["cancel_requested"])
    passed = fields["crosscheck_passed"]
    fields["crosscheck_passed"] = None if passed is None else bool(passed)
    fields["outputs"] = json.loads(fields["outputs"]) if fields["outputs"] else {}
    return JobRow(**fields)


class Database:
    """Thread-safe access to the job database; one connection, one lock.

    Calls are short (one statement or one small transaction), so a lock costs less
    than a connection per thread and keeps every write ordered.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _transaction(self):
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # Jobs

    def insert_job(self, job_id: str, request_json: str, max_queued: int) -> JobRow:
        """Store a new queued job, unless `max_queued` jobs already wait.

        Raises:
            CapacityError: the queue is full.
        """
        with self._transaction() as db:
            waiting = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
            if waiting >= max_queued:
                raise CapacityError(
                    f"the job queue is full ({waiting} jobs waiting, the server allows "
                    f"{max_queued}); retry when jobs have finished")
            db.execute("INSERT INTO jobs (id, state, request, created) VALUES (?, 'queued', ?, ?)",
                       (job_id, request_json, time.time()))
        return self.job(job_id)

    def find_job(self, job_id: str) -> JobRow | None:
        with self._lock:
            found = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if found is None else _row(found)

    def job(self, job_id: str) -> JobRow:
        """The job with this id.

        Raises:
            NotFoundError: no such job.
        """
        found = self.find_job(job_id)
        if found is None:
            raise NotFoundError(f"job '{job_id}' does not exist; ListJobs shows the known jobs")
        return found

    def list_jobs(self, states: tuple[str, ...], before_seq: int | None,
                  limit: int) -> list[JobRow]:
        """Jobs newest first, optionally only in `states` and older than `before_seq`."""
        clauses, values = [], []
        if states:
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            values.extend(states)
        if before_seq is not None:
            clauses.append("seq < ?")
            values.append(before_seq)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(f"SELECT * FROM jobs {where} ORDER BY seq DESC LIMIT ?",
                                    (*values, limit)).fetchall()
        return [_row(row) for row in rows]

    def queued_ids(self) -> list[str]:
        """Ids of the queued jobs, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq").fetchall()
        return [row[0] for row in rows]

    def requeue_running(self) -> list[str]:
        """Put jobs left 'running' by a crash back in the queue; returns their ids."""
        with self._transaction() as db:
            rows = db.execute("SELECT id FROM jobs WHERE state = 'running' "
                              "ORDER BY seq").fetchall()
            db.execute("UPDATE jobs SET state = 'queued' WHERE state = 'running'")
        return [row[0] for row in rows]

    def claim(self, job_id: str) -> JobRow | None:
        """Mark a queued job running, as its next attempt; None if it is no longer queued."""
        with self._lock:
            changed = self._db.execute(
                "UPDATE jobs SET state = 'running', attempt = attempt + 1, started = ?, "
                "error_code = NULL, error_message = NULL "
                "WHERE id = ? AND state = 'queued' AND cancel_requested = 0",
                (time.time(), job_id)).rowcount
        return self.job(job_id) if changed else None

    def requeue(self, job_id: str) -> None:
        """Return a running job to the queue (the server is shutting down)."""
        with self._lock:
            self._db.execute("UPDATE jobs SET state = 'queued' WHERE id = ? AND state = "
                             "'running'", (job_id,))

    def record_progress(self, job_id: str, layer: str, done: int, total: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET layer = ?, neurons_done = ?, neurons_total = ? WHERE id = ?",
                (layer, done, total, job_id))

    def finish(self, job_id: str, state: str, *, error_code: str | None = None,
               error_message: str | None = None, crosscheck_passed: bool | None = None,
               outputs: dict[str, str] | None = None) -> JobRow:
        """Move a job to a terminal state with its outcome, and drop its work units.

        The units are only needed to resume; the outputs hold everything they gave.
        Both happen in one transaction, so a crash leaves either or neither.
        """
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET state = ?, finished = ?, error_code = ?, error_message = ?, "
                "crosscheck_passed = ?, outputs = ? WHERE id = ?",
                (state, time.time(), error_code, error_message,
                 None if crosscheck_passed is None else int(crosscheck_passed),
                 json.dumps(outputs) if outputs else None, job_id))
            db.execute("DELETE FROM units WHERE job_id = ?", (job_id,))
        return self.job(job_id)

    def request_cancel(self, job_id: str) -> JobRow:
        """Cancel a queued job now, or flag a running one; terminal jobs are left alone.

        Raises:
            NotFoundError: no such job.
        """
        with self._transaction() as db:
            db.execute("UPDATE jobs SET state = 'cancelled', finished = ?, cancel_requested = 1 "
                       "WHERE id = ? AND state = 'queued'", (time.time(), job_id))
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'",
                       (job_id,))
        return self.job(job_id)

    def cancel_flagged(self) -> list[str]:
        """Jobs whose cancellation was requested before a crash: cancelled now."""
        with self._transaction() as db:
            rows = db.execute("SELECT id FROM jobs WHERE cancel_requested = 1 AND "
                              "state IN ('queued', 'running')").fetchall()
            db.execute("UPDATE jobs SET state = 'cancelled', finished = ? WHERE "
                       "cancel_requested = 1 AND state IN ('queued', 'running')", (time.time(),))
        return [row[0] for row in rows]

    # Work units

    def keep_units(self, job_id: str, fingerprint: str) -> int:
        """Drop a job's units from another fingerprint; returns how many remain."""
        with self._transaction() as db:
            db.execute("DELETE FROM units WHERE job_id = ? AND fingerprint != ?",
                       (job_id, fingerprint))
            return db.execute("SELECT COUNT(*) FROM units WHERE job_id = ?",
                              (job_id,)).fetchone()[0]

    def load_unit(self, job_id: str, unit: str, fingerprint: str) -> bytes | None:
        with self._lock:
            found = self._db.execute(
                "SELECT payload FROM units WHERE job_id = ? AND unit = ? AND fingerprint = ?",
                (job_id, unit, fingerprint)).fetchone()
        return None if found is None else bytes(found[0])

    def save_unit(self, job_id: str, unit: str, fingerprint: str, attempt: int,
                  payload: bytes) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO units (job_id, unit, fingerprint, attempt, saved, "
                "payload) VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, unit, fingerprint, attempt, time.time(), payload))
