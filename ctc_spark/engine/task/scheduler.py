"""One task's scheduler: it submits and polls continuously, committing job ids first.

Each task reads its batches lazily and keeps a bounded window of them in flight. Every call its token bucket
allows goes to the most useful action: a submit (a retry first) while the window has room and fewer than
`max_uncommitted` jobs wait for their commit, else the poll that is due soonest. Submits before polls keeps
the quota busy to the very end of a run: when the last submit is made, the window is full of jobs that are
already done. A job is polled only after the driver's ledger has committed its id (`commit` returns once
the Delta write is durable), so a crash never loses a job that was paid for, beyond the uncommitted ones.
Results and job states stream back to the driver in small batches. Nothing here raises for a service
failure: each outcome becomes a job state, a batch that runs out of attempts becomes error rows, and a request
the service refuses (400) is split until only the documents it refuses carry the error. Time is read and
waited for only through the settings' `Clock`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ctc_spark.engine.ledger.protocol import JobRow, LookupReply, Reply, ResultRow
from ctc_spark.engine.ledger.states import TERMINAL_ERRORS, should_retry
from ctc_spark.engine.task.batches import BatchState, error_row, from_row, halves, job_results, job_row, resumed_job
from ctc_spark.errors import (
    AuthenticationError,
    CTCError,
    InvalidRequestError,
    NotFoundError,
    SubmitOutcomeUnknownError,
)
from ctc_spark.service.models import AnalyzeDocument
from ctc_spark.service.vocabulary import JobStatus

if TYPE_CHECKING:
    from ctc_spark.engine.ledger.protocol import Ledger
    from ctc_spark.engine.task.protocol import AnalyzeClient, BatchSource
    from ctc_spark.engine.task.settings import TaskSettings

__all__ = ["READ_CHUNK", "Scheduler", "next_latency"]

# Codes that mean "this project or deployment is not usable": stop the run instead of erroring every row.
_FATAL_CODES = frozenset({"ProjectNotFound", "DeploymentNotFound", "ModelNotFound"})
READ_CHUNK = 64  # packed-batch rows taken from the input at a time
_POLL_RETRY_SECONDS = 5.0  # after a poll failed transiently (the client already retried)
_IDLE_SECONDS = 1.0  # the longest the loop sleeps with nothing to do (the source or a finished call wakes it)


def next_latency(observed: Sequence[float], previous: float) -> float:
    """The first-poll delay to use next: the 90th percentile of observed job latencies plus a small margin."""
    values = sorted(v for v in observed if v is not None and v >= 0)
    if not values:
        return previous
    return values[min(len(values) - 1, int(len(values) * 0.9))] + 0.25


class Scheduler:
    """One streaming task's scheduler (the whole run's, under the driver engine): admission, the next call, commits.

    It also keeps the outbox of result rows and job states for the ledger. `lookup` asks the ledger, before
    submitting, what an earlier attempt of the task already did (a retried Spark task).

    The hand-over at the end: when no batch is left in flight, the commit and flush loops are told to stop and
    are awaited (a flush or a commit in progress is never cancelled: its rows are already out of the outbox),
    then the last commit and the last flush run, and `run` returns only when the ledger has answered both.
    """

    def __init__(
        self,
        settings: TaskSettings,
        source: BatchSource,
        clients: Mapping[str, AnalyzeClient],
        link: Ledger,
        *,
        lookup: bool = False,
    ) -> None:
        self.settings = settings
        self.clock = settings.clock
        self.source = source
        self.clients = clients
        self.link = link
        self.lookup = lookup
        self.exhausted = False
        self.submits: deque[BatchState] = deque()  # ready to submit; retries go to the front
        self.polls: list[tuple[float, int, BatchState]] = []  # committed jobs by due time
        self.seq = itertools.count()
        self.uncommitted: list[BatchState] = []
        self.committing = 0
        self.submitting = 0
        self.in_flight = 0  # admitted and not terminal
        self.expected = settings.expected_latency
        self.latencies: deque[float] = deque(maxlen=200)
        self.out_docs: list[ResultRow] = []
        self.out_jobs: list[JobRow] = []
        self.counts = {"resubmits": 0, "jobs": 0, "docs": 0}
        self.first_call_at: float | None = None
        self.abort: str | None = None
        self.failure: BaseException | None = None
        self.wake = asyncio.Event()
        self.commit_wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.sem = asyncio.Semaphore(max(1, settings.concurrency))
        self.running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Drive every batch of the source to a terminal outcome and hand every row to the ledger.

        Raises:
            BaseException: what a call to the ledger, or reading the source, raised.
        """
        loop = asyncio.get_running_loop()

        def wake() -> None:  # the source calls it from its reading thread
            loop.call_soon_threadsafe(self.wake.set)

        self.source.bind(wake)
        committer = asyncio.create_task(self._commit_loop())
        committer.add_done_callback(self._background_done)
        flusher = asyncio.create_task(self._flush_loop())
        flusher.add_done_callback(self._background_done)
        try:
            await self._dispatch()
            if self.running:
                await asyncio.gather(*self.running, return_exceptions=True)
        finally:
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
                due = self.polls[0][0] - self.clock.now() if self.polls else _IDLE_SECONDS
                await self.clock.wait(self.wake, min(_IDLE_SECONDS, max(0.0, due)))
                continue
            await self.sem.acquire()
            if self.first_call_at is None:
                self.first_call_at = self.clock.now()
            runner = asyncio.create_task(self._act(*action))
            self.running.add(runner)
            runner.add_done_callback(self._act_done)

    async def _admit(self) -> None:
        while not self.exhausted and self.in_flight < self.settings.max_in_flight and len(self.submits) < READ_CHUNK:
            chunk, self.exhausted = self.source.take_ready(READ_CHUNK)
            if not chunk and not self.exhausted:
                return  # nothing ready yet: the source wakes the loop when it has more
            batches = [from_row(row) for row in chunk]
            known = await self._known(batches)
            jobs = {r["batch_id"]: resumed_job(r) for r in chunk if r["action"] == "poll"} | known["jobs"]
            self.in_flight += len(batches)
            self._enqueue(
                batches, LookupReply(finished=known["finished"], jobs=jobs, abort=known["abort"]), front=False
            )

    async def _known(self, batches: list[BatchState]) -> LookupReply:
        """What the ledger knows of these batches: a retried Spark task never pays again for an earlier attempt."""
        if not (self.lookup and batches):
            return {"finished": [], "jobs": {}, "abort": None}
        return await self.link.lookup([b.batch_id for b in batches])

    def _enqueue(self, batches: list[BatchState], known: LookupReply, *, front: bool) -> None:
        """Admitted batches go to the submit queue, or to the polls when a job of theirs is committed."""
        finished = set(known["finished"])
        todo: list[BatchState] = []
        for batch in batches:
            job = known["jobs"].get(batch.batch_id)
            if batch.batch_id in finished:
                self.in_flight -= 1
            elif job is None:
                todo.append(batch)
            else:
                batch.job_id, batch.operation_location = job["job_id"], job["operation_location"]
                batch.submitted_at = float(job["submitted_at"] or self.clock.now())
                batch.attempts = max(batch.attempts, int(job["attempts"] or 1))
                self._schedule_poll(batch, batch.submitted_at + self.expected)
        if front:
            self.submits.extendleft(reversed(todo))
        else:
            self.submits.extend(todo)

    def _pick(self) -> tuple[str, BatchState] | None:
        waiting = len(self.uncommitted) + self.committing + self.submitting
        if self.submits and waiting < self.settings.max_uncommitted:
            self.submitting += 1  # counted now: several submits may be launched before the first one runs
            return "submit", self.submits.popleft()
        if self.polls and self.polls[0][0] <= self.clock.now():
            return "poll", heapq.heappop(self.polls)[2]
        return None

    async def _act(self, kind: str, batch: BatchState) -> None:
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

    def _schedule_poll(self, batch: BatchState, due: float) -> None:
        heapq.heappush(self.polls, (due, next(self.seq), batch))

    # -- service calls ------------------------------------------------------------------------------
    async def _submit(self, batch: BatchState) -> None:
        settings = self.settings
        batch.attempts += 1
        if batch.attempts > 1:
            self.counts["resubmits"] += 1
        # Positional ids: user ids may be long or contain characters the service refuses; the ledger maps back.
        docs = [AnalyzeDocument(str(i), t, settings.language) for i, t in enumerate(batch.texts)]
        client = self._client(batch)
        batch.job_id = batch.operation_location = None
        try:
            job = await client.submit(
                docs,
                project=settings.project,
                deployment=settings.deployment,
                kind=settings.kind,
                display_name=f"ctc-spark {batch.batch_id}",
                logging_opt_out=settings.logging_opt_out,
            )
        except SubmitOutcomeUnknownError as exc:
            batch.submitted_at = self.clock.now()
            self._failed(batch, JobStatus.UNKNOWN, exc)
            return
        except (AuthenticationError, NotFoundError) as exc:
            self._fatal(batch, exc)
            return
        except InvalidRequestError as exc:
            if {exc.code, exc.inner_code} & _FATAL_CODES:
                self._fatal(batch, exc)
            else:
                await self._rejected(batch, _describe(exc))
            return
        except CTCError as exc:  # throttled or transient after the client's own retries: not created
            self._failed(batch, JobStatus.FAILED, exc)
            return
        batch.job_id, batch.operation_location = job.job_id, job.operation_location
        batch.submitted_at = job.submitted_at.timestamp()
        self.uncommitted.append(batch)
        self.commit_wake.set()

    async def _poll(self, batch: BatchState) -> None:
        settings = self.settings
        try:
            job = await self._client(batch).get_job(
                batch.operation_location or batch.job_id or "",
                show_stats=settings.show_stats,
                expected_ids=[str(i) for i in range(len(batch.doc_ids))],  # a failed task errors every document
            )
        except NotFoundError as exc:  # purged (past 24 h) or never existed: submit again
            self._failed(batch, JobStatus.EXPIRED, exc)
            return
        except AuthenticationError as exc:
            self._fatal(batch, exc)
            return
        except CTCError:  # transient after the client's retries: the job is still there, ask again later
            self._schedule_poll(batch, self.clock.now() + _POLL_RETRY_SECONDS)
            return
        status = job.status.lower()
        parsed = JobStatus.parse(status)
        expires = job.expires.timestamp() if job.expires else None
        if parsed is not None and parsed.is_success:
            if job.created and job.last_updated:
                self._learn((job.last_updated - job.created).total_seconds())
            docs = job_results(job, batch)
            self.out_docs.extend(docs)
            self.out_jobs.append(job_row(batch, JobStatus.SUCCEEDED, expires_at=expires, terminal=True))
            self.counts["jobs"] += 1
            self.counts["docs"] += len(docs)
            self.in_flight -= 1
            return
        if parsed is not None and parsed.is_failure:
            message = "; ".join(f"{c}: {m}" for c, m in job.errors) or f"job {status}"
            self._failed(batch, JobStatus.FAILED, message[:1000])
            return
        now = self.clock.now()
        age = now - (batch.submitted_at or now)
        if age > settings.job_deadline_seconds:
            self._failed(batch, JobStatus.FAILED, f"job still {status} after {age:.0f}s")
            return
        # Still running: come back after about half the usual latency, never hammering faster than 0.5 s.
        self._schedule_poll(batch, now + max(0.5, self.expected / 2))

    def _client(self, batch: BatchState) -> AnalyzeClient:
        return self.clients.get(batch.resource) or next(iter(self.clients.values()))

    def _learn(self, latency: float) -> None:
        self.latencies.append(latency)
        self.expected = next_latency(self.latencies, self.expected)

    # -- outcomes -----------------------------------------------------------------------------------
    def _failed(self, batch: BatchState, status: str, error: BaseException | str) -> None:
        """A retryable outcome: submit again while attempts remain, else error rows."""
        message = error if isinstance(error, str) else _describe(error)
        if should_retry(status, batch.attempts, max_attempts=self.settings.max_attempts):
            self.out_jobs.append(job_row(batch, status, last_error=message))
            self.submits.appendleft(batch)
            self.wake.set()
        else:
            self._give_up(batch, status, message)

    def _give_up(self, batch: BatchState, status: str, message: str) -> None:
        self.out_jobs.append(job_row(batch, status, last_error=message, terminal=True))
        code = TERMINAL_ERRORS.get(status, "JobFailed")
        self.out_docs.extend(
            error_row(d, s, code, message, batch.job_id) for d, s in zip(batch.doc_ids, batch.sha256s, strict=True)
        )
        self.counts["docs"] += len(batch.doc_ids)
        self.in_flight -= 1

    async def _rejected(self, batch: BatchState, message: str) -> None:
        """A 400 for the request: its halves are submitted as new batches, until a refused document is alone.

        Only a single document the service refuses gets the `RequestRejected` error row. The batch's own row
        is not terminal (its parts go on); each part's id is the batch's with `.0` or `.1` appended.
        """
        if len(batch.doc_ids) == 1:
            self._give_up(batch, JobStatus.REJECTED, message)
            return
        self.out_jobs.append(job_row(batch, JobStatus.REJECTED, last_error=message))
        parts = halves(batch)
        self.in_flight += len(parts) - 1
        self._enqueue(parts, await self._known(parts), front=True)
        self.wake.set()

    def _fatal(self, batch: BatchState, exc: BaseException) -> None:
        self.out_jobs.append(job_row(batch, JobStatus.FATAL, last_error=_describe(exc), terminal=True))
        self.abort = _describe(exc)
        self.in_flight -= 1
        self.wake.set()

    # -- the driver ---------------------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        while not self.stopping.is_set():
            await self.commit_wake.wait()
            self.commit_wake.clear()
            if self.uncommitted and not self.stopping.is_set():
                await self._commit(self.uncommitted)

    async def _commit(self, pending: list[BatchState]) -> None:
        """Commit these jobs' ids in the ledger; only then may they be polled."""
        taken = list(pending)
        del pending[: len(taken)]
        self.committing += len(taken)
        try:
            reply = await self.link.commit([job_row(b, JobStatus.SUBMITTED) for b in taken])
        finally:
            self.committing -= len(taken)
        self._heed(reply)
        for b in taken:
            self._schedule_poll(b, (b.submitted_at or self.clock.now()) + self.expected)
        self.wake.set()

    async def _flush_loop(self) -> None:
        while not await self.clock.wait(self.stopping, self.settings.flush_seconds):
            await self._flush()

    async def _flush(self) -> None:
        if not (self.out_docs or self.out_jobs):
            return
        docs, self.out_docs = self.out_docs, []
        jobs, self.out_jobs = self.out_jobs, []
        self._heed(await self.link.events(docs, jobs))

    def _heed(self, reply: Reply) -> None:
        if reply["abort"] and self.abort is None:
            self.abort = str(reply["abort"])
            self.wake.set()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
