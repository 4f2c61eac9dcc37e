"""The ledger's writer: group commits of job ids, results and job states, into a `Sink` (Delta, or memory in tests).

Tasks hand it three calls (`protocol.py`). A commit is appended to `jobs` with whatever else arrived meanwhile
(group commit) and only then answered, so a job is durable before anyone waits for it. Results and job
states are written by a second thread while the run goes on: results continuously, job states every
`status_seconds` and at the end. Each thread is the only writer of its table during a run.

The hand-over is a protocol, not a timing: `close()` first refuses new calls, then waits for every call
already accepted to return, and only then lets the threads drain their queues and stop. So an accepted row
is always written (or the writer fails loudly), and a call that comes too late gets a `LedgerError`, never a
silent drop. The first failure is kept, refused to every later call, and raised by `close()`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ctc_spark.engine.ledger.heap import trim_heap
from ctc_spark.engine.ledger.protocol import (
    COMMIT,
    EVENTS,
    LOOKUP,
    CommittedJob,
    JobRow,
    LookupReply,
    Reply,
    ResultRow,
)
from ctc_spark.errors import LedgerError
from ctc_spark.service.vocabulary import JobStatus

__all__ = ["LedgerWriter", "Sink", "WriterTimings", "dedupe_results"]

log = logging.getLogger(__name__)

_COMMIT_TIMEOUT = 900.0


class Sink(Protocol):
    """Where the writer's rows go: the run's Delta tables (`sink.DeltaSink`), or a list in a unit test."""

    def append_jobs(self, rows: list[JobRow]) -> None: ...

    def update_jobs(self, rows: list[JobRow]) -> None: ...

    def write_results(self, rows: list[ResultRow]) -> None: ...

    def write_result_frame(self, frame: Any) -> None: ...


@dataclass(frozen=True)
class WriterTimings:
    """How often each table is written: each Delta commit costs a fixed amount of work whatever its size.

    A job waits up to `commit_seconds` before it may be polled (its task keeps submitting meanwhile).
    """

    commit_seconds: float = 2.0
    results_seconds: float = 10.0
    status_seconds: float = 30.0


@dataclass
class _Waiter:
    rows: list[JobRow]
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


def dedupe_results(rows: Iterable[ResultRow]) -> list[ResultRow]:
    """One row per document: a later row replaces an earlier one, but an error never replaces a result.

    Two task attempts (a zombie, a speculative copy, a retried task) may report the same committed job.
    """
    kept: dict[str, ResultRow] = {}
    for row in rows:
        seen = kept.get(row["doc_id"])
        if seen is None or seen["error_code"] is not None or row["error_code"] is None:
            kept[row["doc_id"]] = row
    return list(kept.values())


class LedgerWriter:
    """Serves the task calls (`handle`) and writes what they bring; see the module docstring.

    `before_jobs` runs in the jobs thread before the first job id is committed (the run passes the wait for
    its `runs` row); `fence` runs before every write and every call, and raises when the run no longer holds its lease.
    Either raising fails the writer as a failed commit would.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        timings: WriterTimings | None = None,
        before_jobs: Callable[[], object] | None = None,
        fence: Callable[[], object] | None = None,
        expected_docs: int | None = None,
    ) -> None:
        self.sink = sink
        self.timings = timings or WriterTimings()
        self.expected_docs = expected_docs  # once every expected result is in, write at once
        self.abort: str | None = None  # a fatal service error: every task stops
        self.failure: BaseException | None = None
        self.received_docs = 0
        self.merged_docs = 0
        self.committed_jobs = 0
        self.commits = 0
        self.results_committed_at: float | None = None
        self._before_jobs = before_jobs
        self._fence = fence
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._commits: list[_Waiter] = []
        self._statuses: dict[tuple[str, str], JobRow] = {}
        self._docs: list[ResultRow] = []
        self._frames: list[Any] = []
        self._committed: dict[str, CommittedJob] = {}
        self._finished: set[str] = set()
        self._calls = 0  # calls accepted and not yet returned
        self._closing = False  # no new call is accepted
        self._stopping = False  # the threads drain and stop
        self._results_done = threading.Event()
        self._jobs_thread = threading.Thread(target=self._guard(self._jobs_loop), name="ctc-ledger-jobs", daemon=True)
        self._results_thread = threading.Thread(
            target=self._guard(self._results_loop), name="ctc-ledger-results", daemon=True
        )

    def __repr__(self) -> str:
        return f"LedgerWriter(received_docs={self.received_docs}, committed_jobs={self.committed_jobs})"

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> LedgerWriter:
        self._jobs_thread.start()
        self._results_thread.start()
        return self

    def close(self) -> None:
        """Refuse new calls, wait for the accepted ones, write every pending result; job states may still be
        committing (`join`).

        Raises:
            LedgerError: a commit or a write failed during the run (the original error is chained).
        """
        with self._lock:
            self._closing = True
            while self._calls:
                self._wake.wait()
            self._stopping = True
            self._wake.notify_all()
        if self._results_thread.is_alive():
            self._results_thread.join()
        self._raise_failure()

    def join(self) -> None:
        """Wait for the last job states to be committed (after `close`).

        Raises:
            LedgerError: as for `close`.
        """
        if self._jobs_thread.is_alive():
            self._jobs_thread.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise LedgerError(f"the ledger failed: {type(self.failure).__name__}: {self.failure}") from self.failure

    def write_result_frame(self, frame: Any) -> None:
        """Queue a DataFrame of result rows (for example pre-validation errors) for the results thread."""
        with self._lock:
            self._frames.append(frame)
            self._wake.notify_all()

    # -- calls ----------------------------------------------------------------------------------------
    def handle(self, path: str, body: Mapping[str, Any]) -> Reply | LookupReply:
        """Serve one task call (`body` as it came over the wire, already checked to be an object).

        Raises:
            LedgerError: the ledger has failed or is closed, or the commit did not finish in time.
            KeyError: an unknown path, or a body without the call's field.
        """
        if self._fence is not None and self.failure is None:
            try:
                self._fence()  # in memory: a task learns at its next call, before it submits, that the lease is lost
            except BaseException as exc:
                self._fail(exc, [])
        with self._lock:
            if self.failure is not None:
                raise LedgerError(f"the ledger failed earlier: {self.failure}")
            if self._closing:
                raise LedgerError("the ledger is closed: the run's streaming stage has ended")
            self._calls += 1
        try:
            if path == COMMIT:
                self._commit(list(body["jobs"]))
            elif path == EVENTS:
                self._events(list(body.get("docs") or ()), list(body.get("jobs") or ()))
            elif path == LOOKUP:
                return self._lookup([str(b) for b in body["batch_ids"]])
            else:
                raise KeyError(path)
            return {"abort": self.abort}
        finally:
            with self._lock:
                self._calls -= 1
                if not self._calls:
                    self._wake.notify_all()

    def _commit(self, jobs: list[JobRow]) -> None:
        waiter = _Waiter(jobs)
        with self._lock:
            self._commits.append(waiter)
            self._wake.notify_all()
        if not waiter.done.wait(_COMMIT_TIMEOUT):
            raise LedgerError(f"committing {len(jobs)} job ids took over {_COMMIT_TIMEOUT:.0f}s")
        if waiter.error is not None:
            raise LedgerError(f"committing {len(jobs)} job ids failed: {waiter.error}")

    def _events(self, docs: list[ResultRow], jobs: list[JobRow]) -> None:
        with self._lock:
            self._docs.extend(docs)
            self.received_docs += len(docs)
            for j in jobs:
                key = (j["batch_id"], j.get("job_id") or f"attempt-{j.get('attempts')}-{j['status']}")
                self._statuses[key] = j
                if j.get("terminal"):
                    self._finished.add(j["batch_id"])
                if j["status"] == JobStatus.FATAL and self.abort is None:
                    self.abort = str(j.get("last_error") or "the service refused the run")
            self._wake.notify_all()

    def _lookup(self, batch_ids: list[str]) -> LookupReply:
        with self._lock:
            finished = [b for b in batch_ids if b in self._finished]
            jobs = {b: self._committed[b] for b in batch_ids if b in self._committed and b not in self._finished}
            return {"finished": finished, "jobs": jobs, "abort": self.abort}

    # -- threads --------------------------------------------------------------------------------------
    def _guard(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except BaseException as exc:  # kept, refused to tasks, raised by close()
                log.error("ledger writer failed: %s: %s", type(exc).__name__, exc)
                self._fail(exc, [])
            finally:
                self._results_done.set()

        return run

    def _fail(self, exc: BaseException, waiters: list[_Waiter]) -> None:
        """Keep the first failure and abort the tasks, then release every waiting commit with the error."""
        with self._lock:
            self.failure = self.failure or exc
            self.abort = self.abort or f"the ledger failed: {type(exc).__name__}"
            waiting, self._commits = [*waiters, *self._commits], []
            self._wake.notify_all()
        for w in waiting:
            w.error = f"{type(exc).__name__}: {exc}"
            w.done.set()

    def _jobs_loop(self) -> None:
        if self._before_jobs is not None:
            self._before_jobs()
        t = self.timings
        last_status = last_commit = time.monotonic()
        while True:
            self._pause(last_commit, t.commit_seconds)
            with self._lock:
                due = bool(self._statuses) and time.monotonic() - last_status >= t.status_seconds
                while not (self._commits or self._stopping or due):
                    self._wake.wait(timeout=1.0)
                    due = bool(self._statuses) and time.monotonic() - last_status >= t.status_seconds
                waiters, self._commits = self._commits, []
                stop = self._stopping and not waiters
                statuses: list[JobRow] = []
                if stop or due:
                    statuses, self._statuses = list(self._statuses.values()), {}
            if waiters:
                last_commit = time.monotonic()
                self._append_jobs(waiters)
            if stop:
                self._results_done.wait()  # the last results first: they end the run's classify phase
            if statuses:
                self._checked(self.sink.update_jobs, statuses)
                last_status = time.monotonic()
            if stop:
                return

    def _append_jobs(self, waiters: list[_Waiter]) -> None:
        rows = [r for w in waiters for r in w.rows]
        try:
            self._checked(self.sink.append_jobs, rows)
        except BaseException as exc:
            self._fail(exc, waiters)
            raise
        with self._lock:
            for r in rows:
                self._committed[r["batch_id"]] = {
                    "job_id": r["job_id"],
                    "operation_location": r["operation_location"],
                    "attempts": r["attempts"],
                    "submitted_at": r["submitted_at"],
                }
            self.committed_jobs += len(rows)
            self.commits += 1
        for w in waiters:
            w.done.set()

    def _pause(self, last: float, interval: float) -> None:
        """Wait until `interval` after `last`, unless stopping or every expected result is in (write at once)."""
        with self._lock:
            while not self._stopping and (left := last + interval - time.monotonic()) > 0:
                if self.expected_docs is not None and self.received_docs >= self.expected_docs:
                    return
                self._wake.wait(timeout=left)

    def _results_loop(self) -> None:
        last = time.monotonic()
        while True:
            self._pause(last, self.timings.results_seconds)
            with self._lock:
                while not (self._docs or self._frames or self._stopping):
                    self._wake.wait(timeout=1.0)
                docs, self._docs = self._docs, []
                frames, self._frames = self._frames, []
                stop = self._stopping and not docs and not frames
            if stop:
                return
            last = time.monotonic()
            for frame in frames:
                self._checked(self.sink.write_result_frame, frame)
            if docs:
                self._checked(self.sink.write_results, dedupe_results(docs))
            with self._lock:
                self.merged_docs += len(docs)
                self.results_committed_at = time.time()  # epoch, comparable with the tasks' first call
            del docs, frames
            trim_heap()

    def _checked(self, write: Callable[[Any], None], rows: Any) -> None:
        """A write, after the fence (the run still holds its lease)."""
        if self._fence is not None:
            self._fence()
        write(rows)
