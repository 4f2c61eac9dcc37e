"""One task's scheduler: it submits and polls continuously, committing job ids first.

Each task reads its batches lazily and keeps a bounded window of them in flight. Every call its token bucket
allows goes to the most useful action: a submit (a retry first) while the window has room and fewer than
`max_uncommitted` jobs wait for their commit, else the poll that is due soonest. Submits before polls keeps
the quota busy to the very end of a run: when the last submit is made, the window is full of jobs that are
already done. A job is polled only after the driver's ledger has committed its id (`commit` returns once
the Delta write is durable), so a crash never loses a job that was paid for, beyond the uncommitted ones.
Results and job states stream back to the driver in small batches. Nothing here raises for a service
failure: each outcome becomes a job state, and a batch that runs out of attempts becomes error rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ctc_spark.engine.ledger.states import TERMINAL_ERRORS, should_retry
from ctc_spark.engine.planning.packing import job_rows_to_docs
from ctc_spark.errors import (
    AuthenticationError,
    CTCError,
    InvalidRequestError,
    NotFoundError,
    SubmitOutcomeUnknownError,
)
from ctc_spark.service.vocabulary import JobStatus

if TYPE_CHECKING:
    from ctc_spark.engine.task.settings import ExecutorPlan

__all__ = ["READ_CHUNK", "Scheduler", "next_latency"]

# Codes that mean "this project or deployment is not usable": stop the run instead of erroring every row.
_FATAL_CODES = frozenset({"ProjectNotFound", "DeploymentNotFound", "ModelNotFound"})
READ_CHUNK = 64  # packed-batch rows taken from the input at a time
_POLL_RETRY_SECONDS = 5.0  # after a poll failed transiently (the client already retried)


def next_latency(observed: Sequence[float], previous: float) -> float:
    """The first-poll delay to use next: the 90th percentile of observed job latencies plus a small margin."""
    values = sorted(v for v in observed if v is not None and v >= 0)
    if not values:
        return previous
    return values[min(len(values) - 1, int(len(values) * 0.9))] + 0.25


@dataclass
class _Batch:
    batch_id: str
    resource: str
    doc_ids: list[str]
    texts: list[str]
    sha256s: list[str]
    attempts: int = 0
    job_id: str | None = None
    operation_location: str | None = None
    submitted_at: float | None = None


class Scheduler:
    """One streaming task's scheduler (the whole run's, under the driver engine): admission, the next call, commits.

    It also keeps the outbox of result rows and job states for the ledger.
    """

    def __init__(
        self,
        plan: ExecutorPlan,
        source: Iterator[dict[str, Any]],
        clients: dict[str, Any],
        make_doc: Callable[..., Any],
        link: Any,
        lookup: bool,
    ) -> None:
        self.plan = plan
        self.source = source
        self.clients = clients
        self.make_doc = make_doc
        self.link = link
        self.lookup = lookup
        self.exhausted = False
        self.submits: deque[_Batch] = deque()  # ready to submit; retries go to the front
        self.polls: list[tuple[float, int, _Batch]] = []  # committed jobs by due time
        self.seq = itertools.count()
        self.uncommitted: list[_Batch] = []
        self.committing = 0
        self.submitting = 0
        self.in_flight = 0  # admitted and not terminal
        self.expected = plan.expected_latency
        self.latencies: deque[float] = deque(maxlen=200)
        self.out_docs: list[dict[str, Any]] = []
        self.out_jobs: list[dict[str, Any]] = []
        self.counts = {"resubmits": 0, "jobs": 0, "docs": 0}
        self.first_call_at: float | None = None
        self.abort: str | None = None
        self.failure: BaseException | None = None
        self.wake = asyncio.Event()
        self.commit_wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.sem = asyncio.Semaphore(max(1, plan.concurrency))
        self.running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        bind = getattr(self.source, "bind", None)
        if bind is not None:  # a prefetching source wakes the loop when rows arrive
            loop = asyncio.get_running_loop()
            bind(lambda: loop.call_soon_threadsafe(self.wake.set))
        committer = asyncio.create_task(self._commit_loop())
        committer.add_done_callback(self._background_done)
        flusher = asyncio.create_task(self._flush_loop())
        flusher.add_done_callback(self._background_done)
        try:
            await self._dispatch()
            if self.running:
                await asyncio.gather(*self.running, return_exceptions=True)
        finally:
            # The hand-over: a flush or a commit in progress holds rows already taken from the outbox, so the
            # loops are told to stop and awaited, never cancelled; only then do the last commit and flush run.
            self.stopping.set()
            self.commit_wake.set()
            await asyncio.gather(committer, flusher, return_exceptions=True)
        if self.uncommitted and self.failure is None:  # after an abort: paid for, so record them
            await self._commit(self.uncommitted)
        await self._flush()
        if self.failure is not None:
            raise self.failure

    # -- choosing the next call ---------------------------------------------------------------------
    async def _dispatch(self) -> None:
        while self.abort is None and self.failure is None:
            self.wake.clear()
            await self._admit()
            action = self._pick()
            if action is None:
                if self.exhausted and self.in_flight == 0:
                    return
                timeout = 1.0 if not self.polls else min(1.0, max(0.0, self.polls[0][0] - time.time()))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout)
                continue
            await self.sem.acquire()
            if self.first_call_at is None:
                self.first_call_at = time.time()
            runner = asyncio.create_task(self._act(*action))
            self.running.add(runner)
            runner.add_done_callback(self._act_done)

    async def _admit(self) -> None:
        while not self.exhausted and self.in_flight < self.plan.max_in_flight and len(self.submits) < READ_CHUNK:
            chunk = self._take()
            if not chunk and not self.exhausted:
                return  # nothing ready yet: the source wakes the loop when it has more
            known: dict[str, Any] = {}
            if self.lookup and chunk:  # a retried Spark task: never pay again for what an earlier attempt did
                known = await self.link.lookup([r["batch_id"] for r in chunk])
            finished = set(known.get("finished", ()))
            committed = known.get("jobs", {})
            for row in chunk:
                if row["batch_id"] in finished:
                    continue
                self.in_flight += 1
                batch = _Batch(
                    row["batch_id"],
                    row["resource"],
                    list(row["doc_ids"]),
                    list(row["texts"] or []),
                    list(row["text_sha256s"]),
                    int(row.get("attempts") or 0),
                )
                job = committed.get(row["batch_id"]) or (row if row["action"] == "poll" else None)
                if job is None:
                    self.submits.append(batch)
                    continue
                batch.job_id, batch.operation_location = job["job_id"], job["operation_location"]
                batch.submitted_at = float(job["submitted_at"] or time.time())
                batch.attempts = max(batch.attempts, int(job.get("attempts") or 1))
                self._schedule_poll(batch, batch.submitted_at + self.expected)

    def _take(self) -> list[dict[str, Any]]:
        """The next rows of input; a source with `take_ready` (the driver's prefetcher) never blocks the loop."""
        take = getattr(self.source, "take_ready", None)
        if take is not None:
            chunk, self.exhausted = take(READ_CHUNK)
            return list(chunk)
        chunk = list(itertools.islice(self.source, READ_CHUNK))
        self.exhausted = len(chunk) < READ_CHUNK
        return chunk

    def _pick(self) -> tuple[str, _Batch] | None:
        waiting = len(self.uncommitted) + self.committing + self.submitting
        if self.submits and waiting < self.plan.max_uncommitted:
            self.submitting += 1  # counted now: several submits may be launched before the first one runs
            return "submit", self.submits.popleft()
        if self.polls and self.polls[0][0] <= time.time():
            return "poll", heapq.heappop(self.polls)[2]
        return None

    async def _act(self, kind: str, batch: _Batch) -> None:
        try:
            if kind == "submit":
                try:
                    await self._submit(batch)
                finally:
                    self.submitting -= 1
            else:
                await self._poll(batch)
        finally:
            self.sem.release()

    def _act_done(self, runner: asyncio.Task[None]) -> None:
        self.running.discard(runner)
        self._background_done(runner)
        self.wake.set()

    def _background_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and self.failure is None:
            self.failure = task.exception()
            self.wake.set()

    def _schedule_poll(self, batch: _Batch, due: float) -> None:
        heapq.heappush(self.polls, (due, next(self.seq), batch))

    # -- service calls ------------------------------------------------------------------------------
    async def _submit(self, batch: _Batch) -> None:
        plan = self.plan
        batch.attempts += 1
        if batch.attempts > 1:
            self.counts["resubmits"] += 1
        # Positional ids: user ids may be long or contain characters the service refuses; the ledger maps back.
        docs = [self.make_doc(str(i), t, plan.language) for i, t in enumerate(batch.texts)]
        client = self.clients.get(batch.resource) or next(iter(self.clients.values()))
        batch.job_id = batch.operation_location = None
        try:
            job = await client.submit(
                docs,
                project=plan.project,
                deployment=plan.deployment,
                kind=plan.kind,
                display_name=f"ctc-spark {batch.batch_id}",
                logging_opt_out=plan.logging_opt_out,
            )
        except SubmitOutcomeUnknownError as exc:
            batch.submitted_at = time.time()
            self._failed(batch, JobStatus.UNKNOWN, exc)
            return
        except (AuthenticationError, NotFoundError) as exc:
            self._fatal(batch, exc)
            return
        except InvalidRequestError as exc:
            if {exc.code, exc.inner_code} & _FATAL_CODES:
                self._fatal(batch, exc)
            else:
                self._give_up(batch, JobStatus.REJECTED, _describe(exc))
            return
        except CTCError as exc:  # throttled or transient after the client's own retries: not created
            self._failed(batch, JobStatus.FAILED, exc)
            return
        batch.job_id, batch.operation_location = job.job_id, job.operation_location
        batch.submitted_at = job.submitted_at.timestamp()
        self.uncommitted.append(batch)
        self.commit_wake.set()

    async def _poll(self, batch: _Batch) -> None:
        plan = self.plan
        client = self.clients.get(batch.resource) or next(iter(self.clients.values()))
        try:
            job = await client.get_job(
                batch.operation_location or batch.job_id,
                show_stats=plan.show_stats,
                expected_ids=[str(i) for i in range(len(batch.doc_ids))],  # a failed task errors every document
            )
        except NotFoundError as exc:  # purged (past 24 h) or never existed: submit again
            self._failed(batch, JobStatus.EXPIRED, exc)
            return
        except AuthenticationError as exc:
            self._fatal(batch, exc)
            return
        except CTCError:  # transient after the client's retries: the job is still there, ask again later
            self._schedule_poll(batch, time.time() + _POLL_RETRY_SECONDS)
            return
        status = job.status.lower()
        parsed = JobStatus.parse(status)
        expires = job.expires.timestamp() if job.expires else None
        if parsed is not None and parsed.is_success:
            if job.created and job.last_updated:
                self._learn((job.last_updated - job.created).total_seconds())
            docs = job_rows_to_docs(job, batch.doc_ids, batch.sha256s)
            self.out_docs.extend(_result_row(d) for d in docs)
            self.out_jobs.append(self._job_row(batch, JobStatus.SUCCEEDED, expires_at=expires, terminal=True))
            self.counts["jobs"] += 1
            self.counts["docs"] += len(docs)
            self.in_flight -= 1
            return
        if parsed is not None and parsed.is_failure:
            message = "; ".join(f"{c}: {m}" for c, m in job.errors) or f"job {status}"
            self._failed(batch, JobStatus.FAILED, message[:1000])
            return
        age = time.time() - float(batch.submitted_at or time.time())
        if age > plan.job_deadline_seconds:
            self._failed(batch, JobStatus.FAILED, f"job still {status} after {age:.0f}s")
            return
        # Still running: come back after about half the usual latency, never hammering faster than 0.5 s.
        self._schedule_poll(batch, time.time() + max(0.5, self.expected / 2))

    def _learn(self, latency: float) -> None:
        self.latencies.append(latency)
        self.expected = next_latency(self.latencies, self.expected)

    # -- outcomes -----------------------------------------------------------------------------------
    def _failed(self, batch: _Batch, status: str, error: BaseException | str) -> None:
        """A retryable outcome: submit again while attempts remain, else error rows."""
        message = error if isinstance(error, str) else _describe(error)
        if should_retry(status, batch.attempts, max_attempts=self.plan.max_attempts):
            self.out_jobs.append(self._job_row(batch, status, last_error=message))
            self.submits.appendleft(batch)
            self.wake.set()
        else:
            self._give_up(batch, status, message)

    def _give_up(self, batch: _Batch, status: str, message: str) -> None:
        self.out_jobs.append(self._job_row(batch, status, last_error=message, terminal=True))
        code = TERMINAL_ERRORS.get(status, "JobFailed")
        self.out_docs.extend(
            {
                "doc_id": d,
                "text_sha256": s,
                "category": None,
                "confidence": None,
                "classes": None,
                "error_code": code,
                "error_message": message[:1000],
                "job_id": batch.job_id,
            }
            for d, s in zip(batch.doc_ids, batch.sha256s, strict=True)
        )
        self.counts["docs"] += len(batch.doc_ids)
        self.in_flight -= 1

    def _fatal(self, batch: _Batch, exc: BaseException) -> None:
        self.out_jobs.append(self._job_row(batch, JobStatus.FATAL, last_error=_describe(exc), terminal=True))
        self.abort = _describe(exc)
        self.in_flight -= 1
        self.wake.set()

    def _job_row(
        self,
        batch: _Batch,
        status: str,
        *,
        expires_at: float | None = None,
        last_error: str | None = None,
        terminal: bool = False,
    ) -> dict[str, Any]:
        submitted = batch.submitted_at if batch.job_id else None
        return {
            "batch_id": batch.batch_id,
            "resource": batch.resource,
            "doc_ids": batch.doc_ids,
            "text_sha256s": batch.sha256s,
            "n_chars": sum(len(t) for t in batch.texts),
            "job_id": batch.job_id,
            "operation_location": batch.operation_location,
            "submitted_at": submitted,
            "expires_at": expires_at if expires_at is not None else (submitted + 86400.0 if submitted else None),
            "status": status,
            "attempts": batch.attempts,
            "last_error": last_error,
            "terminal": terminal,
        }

    # -- the driver ---------------------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        while not self.stopping.is_set():
            await self.commit_wake.wait()
            self.commit_wake.clear()
            if self.uncommitted and not self.stopping.is_set():
                await self._commit(self.uncommitted)

    async def _commit(self, pending: list[_Batch]) -> None:
        """Commit these jobs' ids in the ledger; only then may they be polled."""
        taken = list(pending)
        del pending[: len(taken)]
        self.committing += len(taken)
        try:
            reply = await self.link.commit([self._job_row(b, JobStatus.SUBMITTED) for b in taken])
        finally:
            self.committing -= len(taken)
        self._heed(reply)
        for b in taken:
            self._schedule_poll(b, float(b.submitted_at or time.time()) + self.expected)
        self.wake.set()

    async def _flush_loop(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.plan.flush_seconds)
            if not self.stopping.is_set():
                await self._flush()

    async def _flush(self) -> None:
        if not (self.out_docs or self.out_jobs):
            return
        docs, self.out_docs = self.out_docs, []
        jobs, self.out_jobs = self.out_jobs, []
        self._heed(await self.link.events(docs, jobs))

    def _heed(self, reply: dict[str, Any] | None) -> None:
        if reply and reply.get("abort") and self.abort is None:
            self.abort = str(reply["abort"])
            self.wake.set()


def _result_row(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        k: doc.get(k)
        for k in ("doc_id", "text_sha256", "category", "confidence", "classes", "error_code", "error_message", "job_id")
    }


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
