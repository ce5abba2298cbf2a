"""The job queue: admit, persist, run on a bounded pool of workers, cancel, and recover.

A job is in the database before StartAnalysis answers. At start-up, jobs a crash left
running go back to the queue and resume from their last finished unit. Cancellation
and shutdown are cooperative: the progress callback raises after the current unit.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Iterator

from nca_onnx.errors import NcaError, StateError
from nca_onnx.service._proto import nca_pb2
from nca_onnx.service.blobs import BlobStore
from nca_onnx.service.convert import job_message, request_from_json, request_to_json
from nca_onnx.service.database import Database, JobRow
from nca_onnx.service.edge import status_for
from nca_onnx.service.runner import caller_message, prepare, run_prepared
from nca_onnx.service.settings import ServerConfig

__all__ = ["JobManager"]

# Job events (accepted, started, resumed, finished) go to this logger, one line each.
events = logging.getLogger("nca_onnx.service.events")
logger = logging.getLogger(__name__)

WATCH_POLL_S = 1.0


class _StopRequested(Exception):
    """Raised from the progress callback to stop a job between units."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Pace:
    """Where this run's rate is measured from: the last unit read from the database."""

    since_s: float
    since_done: int
    eta_s: float | None = None


@dataclass
class _Live:
    """What only the running process knows about a job."""

    cancel: threading.Event = field(default_factory=threading.Event)
    pace: _Pace | None = None


class JobManager:
    """Owns the workers and everything a job goes through after it is accepted."""

    def __init__(self, database: Database, blobs: BlobStore, settings: ServerConfig) -> None:
        self._database = database
        self._blobs = blobs
        self._settings = settings
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._live: dict[str, _Live] = {}
        self._changed = threading.Condition()
        self._versions: dict[str, int] = {}
        self._stopping = threading.Event()

    # Life cycle

    def start(self) -> None:
        """Recover what a crash left, then start the workers."""
        cancelled = self._database.cancel_flagged()
        interrupted = self._database.requeue_running()
        queued = self._database.queued_ids()
        if cancelled or interrupted or queued:
            events.info("recovered: %d interrupted jobs resume, %d queued, %d cancelled",
                        len(interrupted), len(queued) - len(interrupted), len(cancelled))
        for job_id in queued:
            self._queue.put(job_id)
        for number in range(self._settings.workers):
            worker = threading.Thread(target=self._work, name=f"nca-worker-{number}",
                                      daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self, timeout_s: float) -> None:
        """Stop the workers after their current unit; running jobs stay queued for later."""
        self._stopping.set()
        for _ in self._workers:
            self._queue.put(None)
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._changed:
            self._changed.notify_all()

    # Requests

    def submit(self, request: nca_pb2.StartAnalysisRequest) -> nca_pb2.Job:
        """Check and queue a job; it is stored before this returns.

        Raises:
            NcaError: an unusable request (see runner.prepare); CapacityError when full.
        """
        if self._stopping.is_set():
            raise StateError("the server is shutting down; submit the job again after it "
                             "restarts")
        prepare(request, self._blobs, self._settings)
        job_id = uuid.uuid4().hex[:16]
        row = self._database.insert_job(job_id, request_to_json(request),
                                        self._settings.max_queued_jobs)
        self._queue.put(job_id)
        events.info("job %s accepted (model sha256:%.12s, %d classes)", job_id,
                    request.model_sha256, len(request.parameters.classes))
        self._notify(job_id)
        return job_message(row)

    def get(self, job_id: str) -> nca_pb2.Job:
        """The job's current message. Raises NotFoundError for an unknown id."""
        return self._message(self._database.job(job_id))

    def page(self, states: tuple[str, ...], before_seq: int | None,
             limit: int) -> tuple[list[nca_pb2.Job], int | None]:
        """A page of jobs, newest first, and the seq to continue from (None at the end)."""
        rows = self._database.list_jobs(states, before_seq, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return [self._message(row) for row in rows], rows[-1].seq if more else None

    def cancel(self, job_id: str) -> nca_pb2.Job:
        """Cancel a queued job now, a running one after its current unit.

        Raises:
            NotFoundError: unknown id. StateError: the job already succeeded or failed.
        """
        row = self._database.job(job_id)
        if row.state in ("succeeded", "failed"):
            raise StateError(f"job {job_id} has already {row.state}; there is nothing to "
                             "cancel")
        row = self._database.request_cancel(job_id)
        live = self._live.get(job_id)
        if live is not None:
            live.cancel.set()
        if row.state == "cancelled":
            events.info("job %s cancelled while queued", job_id)
        self._notify(job_id)
        return self._message(row)

    def watch(self, job_id: str, is_active: Callable[[], bool]) -> Iterator[nca_pb2.Job]:
        """The job now and after each change, until it ends or the caller leaves."""
        seen = self._version(job_id)
        row = self._database.job(job_id)
        yield self._message(row)
        while not row.is_terminal and is_active() and not self._stopping.is_set():
            with self._changed:
                self._changed.wait_for(
                    lambda last=seen: self._version(job_id) != last or self._stopping.is_set(),
                    timeout=WATCH_POLL_S)
            version = self._version(job_id)
            if version != seen:
                seen = version
                row = self._database.job(job_id)
                yield self._message(row)

    def outputs(self, job_id: str) -> dict[str, str]:
        """Output digests of a succeeded job.

        Raises:
            NotFoundError: unknown id. StateError: the job has not succeeded.
        """
        row = self._database.job(job_id)
        if row.state == "succeeded":
            return row.outputs
        if row.state == "failed":
            raise StateError(f"job {job_id} failed, so it has no report: {row.error_message}")
        if row.state == "cancelled":
            raise StateError(f"job {job_id} was cancelled, so it has no report; start it again")
        raise StateError(f"job {job_id} is {row.state} ({row.neurons_done} of "
                         f"{row.neurons_total} neurons); wait until it succeeds (WatchJob)")

    # Internals

    def _version(self, job_id: str) -> int:
        return self._versions.get(job_id, 0)

    def _notify(self, job_id: str) -> None:
        with self._changed:
            self._versions[job_id] = self._version(job_id) + 1
            self._changed.notify_all()

    def _message(self, row: JobRow) -> nca_pb2.Job:
        live = self._live.get(row.id)
        eta = live.pace.eta_s if live is not None and live.pace is not None else None
        return job_message(row, eta)

    def _work(self) -> None:
        while not self._stopping.is_set():
            job_id = self._queue.get()
            if job_id is None or self._stopping.is_set():
                return  # a job taken now stays queued in the database for the next start
            # Registered before the claim, so that a cancel arriving in between is seen.
            live = self._live.setdefault(job_id, _Live())
            row = self._database.claim(job_id)
            if row is None:
                self._live.pop(job_id, None)
                continue
            self._run(row, live)

    def _progress(self, job_id: str, live: _Live):
        def after_unit(unit, done: int, total: int, reused: bool) -> None:
            self._database.record_progress(job_id, unit.layer, done, total)
            now = time.monotonic()
            if live.pace is None or reused:
                live.pace = _Pace(now, done)
            elif done > live.pace.since_done:
                rate = (done - live.pace.since_done) / max(now - live.pace.since_s, 1e-9)
                live.pace.eta_s = (total - done) / rate
            self._notify(job_id)
            if live.cancel.is_set():
                raise _StopRequested("cancelled")
            if self._stopping.is_set():
                raise _StopRequested("shutdown")

        return after_unit

    def _run(self, row: JobRow, live: _Live) -> None:
        job_id = row.id
        started = time.monotonic()
        events.info("job %s started (attempt %d)", job_id, row.attempt)
        self._notify(job_id)
        job = None
        try:
            job = prepare(request_from_json(row.request), self._blobs, self._settings)
            outcome = run_prepared(job_id, row.attempt, job, self._database, self._blobs,
                                   self._progress(job_id, live))
        except _StopRequested as stop:
            if stop.reason == "cancelled":
                done = self._database.finish(job_id, "cancelled")
                events.info("job %s cancelled after %d of %d neurons", job_id,
                            done.neurons_done, done.neurons_total)
            else:
                self._database.requeue(job_id)
                events.info("job %s interrupted by shutdown; it resumes at the next start",
                            job_id)
        except NcaError as error:
            message = caller_message(error, job) if job is not None else str(error)
            self._database.finish(job_id, "failed", error_code=status_for(error).name,
                                  error_message=message)
            events.info("job %s failed: %s", job_id, message)
        except Exception as error:  # a bug must fail one job, not the worker
            logger.exception("job %s: unexpected error", job_id)
            self._database.finish(job_id, "failed", error_code="INTERNAL",
                                  error_message=f"internal error ({type(error).__name__}); "
                                  "the server log has the details")
            events.info("job %s failed: internal error %s", job_id, type(error).__name__)
        else:
            self._database.finish(job_id, "succeeded", outputs=outcome.outputs,
                                  crosscheck_passed=outcome.crosscheck_passed)
            events.info("job %s succeeded in %.1f s (%d units reused, cross-check %s)",
                        job_id, time.monotonic() - started, outcome.units_reused,
                        "passed" if outcome.crosscheck_passed else "FAILED")
        finally:
            self._live.pop(job_id, None)
            self._notify(job_id)
