"""The streaming task's scheduling and outcome mapping, through `drive_rows`, against an in-memory service and
ledger built from the real `service.models`, on a virtual clock (no Spark, no socket, no sleeping)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.engine.ledger.protocol import CommittedJob, JobRow, LookupReply, Reply, ResultRow
from ctc_spark.engine.task.clock import Clock
from ctc_spark.engine.task.protocol import AnalyzeClient, BatchRow
from ctc_spark.engine.task.runner import TaskCounters, drive_rows
from ctc_spark.engine.task.scheduler import next_latency
from ctc_spark.engine.task.settings import TaskSettings
from ctc_spark.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    SubmitOutcomeUnknownError,
    TransientServiceError,
)
from ctc_spark.service.models import (
    AnalyzeDocument,
    AnalyzeJob,
    CallStats,
    ClassScore,
    DocumentResult,
    SubmittedJob,
)
from ctc_spark.service.transport import RateLimiter

LATENCY = 0.2


@dataclass
class _Service:
    """A tiny service: jobs finish LATENCY seconds after submission; behaviours keyed by the first text."""

    clock: Clock
    jobs: dict[str, tuple[float, list[str]]] = field(default_factory=dict)
    poll_times: dict[str, list[float]] = field(default_factory=dict)
    submit_times: list[float] = field(default_factory=list)
    once: set[str] = field(default_factory=set)


@dataclass
class _Link:
    """The driver's ledger in memory: commits take `commit_seconds`, events `events_seconds`; all recorded."""

    clock: Clock
    commit_seconds: float = 0.0
    events_seconds: float = 0.0
    commits: list[tuple[float, list[JobRow]]] = field(default_factory=list)
    docs: list[ResultRow] = field(default_factory=list)
    jobs: list[JobRow] = field(default_factory=list)
    known: LookupReply = field(default_factory=lambda: LookupReply(finished=[], jobs={}, abort=None))
    abort: str | None = None
    committed_jobs: int = 0
    uncommitted_peak: int = 0

    async def lookup(self, batch_ids: list[str]) -> LookupReply:
        return self.known

    async def commit(self, jobs: list[JobRow]) -> Reply:
        await self.clock.sleep(self.commit_seconds)
        self.commits.append((self.clock.now(), jobs))
        self.committed_jobs += len(jobs)
        return {"abort": self.abort}

    async def events(self, docs: list[ResultRow], jobs: list[JobRow]) -> Reply:
        if self.events_seconds:
            await self.clock.sleep(self.events_seconds)
        self.docs += docs
        self.jobs += jobs
        return {"abort": self.abort}

    async def aclose(self) -> None:
        pass


class _Client:
    def __init__(self, service: _Service, link: _Link, limiter: RateLimiter) -> None:
        self.service, self.link, self.limiter = service, link, limiter
        self.stats = CallStats()

    def _at(self, t: float) -> datetime:
        return datetime.fromtimestamp(t, timezone.utc)

    async def submit(self, documents: Any, **_: Any) -> SubmittedJob:
        docs: list[AnalyzeDocument] = list(documents)
        await self.limiter.acquire()
        self.stats.submits += 1
        service, text, now = self.service, docs[0].text, self.service.clock.now()
        if text == "lost":
            raise SubmitOutcomeUnknownError("connection dropped after sending")
        if text == "busy":
            raise TransientServiceError("503 after retries", status=503)
        if text == "rejected" or any(d.text == "refused" for d in docs):
            raise InvalidRequestError("too many documents", status=400, code="InvalidArgument")
        if text == "nodeploy":
            raise InvalidRequestError(
                "no such deployment", status=400, code="InvalidArgument", inner_code="DeploymentNotFound"
            )
        if text == "badkey":
            raise AuthenticationError("access denied", status=401)
        if text.startswith("once-") and text not in service.once:
            service.once.add(text)  # this text's first job is purged before anyone polls it
            return SubmittedJob("job-purged", "http://x/jobs/job-purged", self._at(now))
        service.submit_times.append(now)
        self.link.uncommitted_peak = max(self.link.uncommitted_peak, len(service.jobs) + 1 - self.link.committed_jobs)
        job_id = f"job-{len(service.jobs)}"
        service.jobs[job_id] = (now, [d.text for d in docs])
        return SubmittedJob(job_id, f"http://x/jobs/{job_id}", self._at(now))

    async def get_job(self, job: str, *, show_stats: bool = False, expected_ids: Any = None) -> AnalyzeJob:
        await self.limiter.acquire()
        self.stats.polls += 1
        service, job_id, now = self.service, job.rsplit("/", 1)[-1], self.service.clock.now()
        service.poll_times.setdefault(job_id, []).append(now)
        if job_id not in service.jobs:
            raise NotFoundError("job not found", status=404)
        started, texts = service.jobs[job_id]
        created = self._at(started)
        if texts[0] == "slow" or now - started < LATENCY:
            return AnalyzeJob(job_id, "running", created, created, created + timedelta(days=1))
        if texts[0] == "doomed":
            return AnalyzeJob(
                job_id, "failed", created, created, created + timedelta(days=1), (), (("InternalError", "x"),)
            )
        docs = tuple(DocumentResult(str(i), (ClassScore(t, 0.9),), characters=len(t)) for i, t in enumerate(texts))
        return AnalyzeJob(job_id, "succeeded", created, created + timedelta(seconds=LATENCY), created, docs)

    async def aclose(self) -> None:
        pass


class _Rows:
    """A `BatchSource` over a list: everything is ready at once."""

    def __init__(self, rows: list[BatchRow]) -> None:
        self.rows = list(rows)

    def bind(self, wake: Any) -> None:
        wake()

    def take_ready(self, n: int) -> tuple[list[BatchRow], bool]:
        chunk, self.rows = self.rows[:n], self.rows[n:]
        return chunk, not self.rows


@dataclass
class _World:
    """One test's service, ledger and clock."""

    clock: Clock
    service: _Service = field(init=False)
    link: _Link = field(init=False)

    def __post_init__(self) -> None:
        self.service, self.link = _Service(self.clock), _Link(self.clock)

    def settings(self, **kw: Any) -> TaskSettings:
        def client(resource: ResourceSettings, service: ServiceSettings, limiter: RateLimiter) -> AnalyzeClient:
            return _Client(self.service, self.link, limiter)

        fields: dict[str, Any] = {
            "service": ServiceSettings(resources=(ResourceSettings("http://x", Secret("k"), 60_000, name="r"),)),
            "project": "p",
            "deployment": "d",
            "kind": "single",
            "shares": (500.0,),
            "expected_latency": LATENCY + 0.05,
            "flush_seconds": 0.05,
            "clock": self.clock,
            "client_factory": client,
            "link_factory": lambda _settings: self.link,
        }
        return TaskSettings(**(fields | kw))

    def run(self, rows: list[BatchRow], *, lookup: bool = False, **kw: Any) -> TaskCounters:
        link = self.link
        link.commit_seconds = kw.pop("commit_seconds", 0.0)
        link.events_seconds = kw.pop("events_seconds", 0.0)
        link.known = kw.pop("known", LookupReply(finished=[], jobs={}, abort=None))
        link.abort = kw.pop("abort", None)
        return drive_rows(self.settings(**kw), _Rows(rows), lookup=lookup)[0]

    def again(self) -> _World:
        """The same service and clock, a fresh ledger: a later attempt of the task."""
        world = _World(self.clock)
        world.service = self.service
        return world

    def finals(self) -> dict[str, JobRow]:
        return {j["batch_id"]: j for j in self.link.jobs if j["terminal"]}


def _row(batch: str, texts: list[str], **job: Any) -> BatchRow:
    return {
        "action": "poll" if job else "submit",
        "batch_id": batch,
        "resource": "r",
        "doc_ids": [f"{batch}-{i}" for i in range(len(texts))],
        "texts": texts,
        "text_sha256s": ["s"] * len(texts),
        "job_id": None,
        "operation_location": None,
        "submitted_at": None,
        "attempts": 0,
        **job,  # a resumed job's fields
    }


@pytest.fixture
def world(clock: Clock) -> _World:
    return _World(clock)


def test_a_job_costs_one_submit_and_one_poll_and_is_committed_before_it_is_polled(world: _World) -> None:
    stats = world.run([_row(f"b{i}", ["sports", "travel"]) for i in range(10)])
    link, service = world.link, world.service
    assert (stats["submits"], stats["polls"], stats["jobs"], stats["docs"]) == (10, 10, 10, 20)
    committed_at = {j["job_id"]: at for at, jobs in link.commits for j in jobs}
    assert len(committed_at) == 10 and all(j["status"] == "submitted" for _, js in link.commits for j in js)
    for job_id, at in committed_at.items():
        assert job_id is not None and service.poll_times[job_id][0] >= at, "a job was polled before its commit"
    docs = {d["doc_id"]: d for d in link.docs}
    assert len(docs) == 20 and docs["b3-1"]["category"] == "travel" and docs["b3-1"]["error_code"] is None
    assert docs["b3-1"]["job_id"] == world.finals()["b3"]["job_id"]
    assert {j["status"] for j in world.finals().values()} == {"succeeded"}


def test_polls_wait_for_the_expected_completion_time(world: _World) -> None:
    world.run([_row("early", ["a"])], expected_latency=0.5)
    job = world.link.commits[0][1][0]
    assert job["job_id"] is not None and job["submitted_at"] is not None
    first = world.service.poll_times[job["job_id"]][0]
    assert first - job["submitted_at"] >= 0.45


def test_submitted_but_uncommitted_jobs_stay_under_the_bound(world: _World) -> None:
    stats = world.run([_row(f"u{i}", ["sports"]) for i in range(40)], max_uncommitted=3, commit_seconds=0.05)
    link = world.link
    assert stats["jobs"] == 40 and len(link.commits) >= 40 // 3
    assert link.uncommitted_peak <= 3, f"{link.uncommitted_peak} jobs were submitted but not committed at once"


def test_submits_come_before_polls_while_the_window_has_room(world: _World) -> None:
    world.run([_row(f"w{i}", ["sports"]) for i in range(30)], max_in_flight=100)
    service = world.service
    mine = {j["job_id"] for _, js in world.link.commits for j in js}
    first_poll = min(t for job_id in mine if job_id for t in service.poll_times[job_id])
    assert len(mine) == 30 and max(service.submit_times[-30:]) <= first_poll  # the whole window was submitted first


def test_unfinished_jobs_are_polled_again_at_half_the_latency(world: _World) -> None:
    stats = world.run([_row("s", ["slow"])], expected_latency=0.0, job_deadline_seconds=1.6)
    job_ids = [j["job_id"] for _, js in world.link.commits for j in js]
    assert job_ids[0] is not None and 2 <= len(world.service.poll_times[job_ids[0]]) <= 5  # >= 0.5 s apart
    final = world.finals()["s"]
    assert final["status"] == "failed" and "still running" in str(final["last_error"]) and stats["resubmits"] == 2


def test_every_failure_becomes_retries_then_error_rows_not_exceptions(world: _World) -> None:
    rows = [_row("lost", ["lost"]), _row("busy", ["busy"]), _row("doomed", ["doomed"]), _row("rej", ["rejected"])]
    stats = world.run(rows)
    finals = world.finals()
    assert finals["lost"]["status"] == "unknown" and "SubmitOutcomeUnknownError" in str(finals["lost"]["last_error"])
    assert finals["busy"]["status"] == "failed" and finals["doomed"]["status"] == "failed"
    assert "InternalError" in str(finals["doomed"]["last_error"])
    assert finals["rej"]["status"] == "rejected" and finals["rej"]["attempts"] == 1
    assert all(finals[b]["attempts"] == 3 for b in ("lost", "busy", "doomed"))
    assert stats["resubmits"] == 6
    codes = {d["doc_id"]: d["error_code"] for d in world.link.docs}
    assert codes == {
        "lost-0": "SubmitOutcomeUnknown",
        "busy-0": "JobFailed",
        "doomed-0": "JobFailed",
        "rej-0": "RequestRejected",
    }


def test_a_purged_job_is_submitted_again(world: _World) -> None:
    stats = world.run([_row("gone", ["once-gone"])])
    assert [j["status"] for j in world.link.jobs] == ["expired", "succeeded"] and stats["resubmits"] == 1
    assert [d["category"] for d in world.link.docs] == ["once-gone"]


@pytest.mark.parametrize("text", ["nodeploy", "badkey"])
def test_a_refused_deployment_or_key_stops_the_task(world: _World, text: str) -> None:
    stats = world.run([_row("x", [text])] + [_row(f"y{i}", ["sports"]) for i in range(50)], concurrency=1)
    assert world.finals()["x"]["status"] == "fatal"
    assert stats["submits"] < 51, "the task went on submitting after a fatal answer"


def test_an_abort_from_the_driver_stops_the_task(world: _World) -> None:
    stats = world.run(
        [_row(f"a{i}", ["sports"]) for i in range(200)],
        abort="the service refused the run",
        concurrency=1,
        shares=(100.0,),
    )
    assert stats["submits"] < 200


def test_a_retried_spark_task_polls_committed_jobs_and_skips_finished_batches(world: _World) -> None:
    first = world.run([_row("c", ["sports"])])
    assert first["submits"] == 1
    job = world.link.commits[0][1][0]
    committed = CommittedJob(
        job_id=job["job_id"],
        operation_location=job["operation_location"],
        submitted_at=job["submitted_at"],
        attempts=job["attempts"],
    )
    known = LookupReply(finished=["f"], jobs={"c": committed}, abort=None)
    retry = world.again()
    stats = retry.run([_row("c", ["sports"]), _row("f", ["travel"]), _row("n", ["travel"])], lookup=True, known=known)
    assert (stats["submits"], stats["polls"]) == (1, 2)  # only "n" is new; "c" is polled; "f" is done
    assert {d["doc_id"] for d in retry.link.docs} == {"c-0", "n-0"}


def test_a_resumed_job_is_polled_not_resubmitted(world: _World) -> None:
    first = world.run([_row("r", ["sports"])])
    assert first["submits"] == 1
    job = world.link.commits[0][1][0]
    resumed = world.again()
    row = _row(
        "r",
        ["sports"],
        job_id=job["job_id"],
        operation_location=job["operation_location"],
        submitted_at=job["submitted_at"],
        attempts=1,
    )
    stats = resumed.run([row])
    assert (stats["submits"], stats["polls"]) == (0, 1) and resumed.link.docs[0]["category"] == "sports"


def test_a_flush_in_progress_when_the_work_ends_still_reaches_the_ledger(world: _World) -> None:
    # A hand-over to the ledger takes 100 flush periods: the first batches' results are still being handed over
    # when the last batch ends (after a poll at 0.25 s and one at 0.75 s).
    rows = [_row(f"z{i}", ["sports"]) for i in range(3)] + [_row("late", ["slow"])]
    world.run(rows, flush_seconds=0.05, events_seconds=5.0, job_deadline_seconds=0.4, max_attempts=1)
    assert world.clock.now() - world.service.submit_times[0] > 5.0  # the run waited for the hand-over
    assert {d["doc_id"] for d in world.link.docs} == {"z0-0", "z1-0", "z2-0", "late-0"}
    assert {b for b, j in world.finals().items()} == {"z0", "z1", "z2", "late"}


def test_a_rejected_request_is_split_until_only_the_refused_document_carries_the_error(world: _World) -> None:
    texts = ["sports"] * 25
    texts[17] = "refused"
    stats = world.run([_row("big", texts)])
    docs = {d["doc_id"]: d for d in world.link.docs}
    assert len(docs) == 25 and len(world.link.docs) == 25
    assert {k for k, d in docs.items() if d["error_code"]} == {"big-17"}
    assert docs["big-17"]["error_code"] == "RequestRejected" and "InvalidRequestError" in str(
        docs["big-17"]["error_message"]
    )
    assert all(d["category"] == "sports" for k, d in docs.items() if k != "big-17")
    # 25 -> 13 + 12 -> 6 + 6 -> 3 + 3 -> 2 + 1 -> 1 + 1: one submit per part, none of them a resubmit
    assert stats["submits"] == 11 and stats["resubmits"] == 0 and stats["docs"] == 25
    rejected = [j for j in world.link.jobs if j["status"] == "rejected"]
    assert [j["terminal"] for j in rejected] == [False] * 5 + [True]
    assert rejected[-1]["doc_ids"] == ["big-17"] and rejected[-1]["batch_id"] == "big.1.0.1.0.1"
    assert all(j["batch_id"].startswith("big") for j in world.link.jobs)


def test_the_parts_of_a_split_batch_ask_a_retried_task_s_ledger_first(world: _World) -> None:
    texts = ["sports", "travel", "refused", "sports"]
    known = LookupReply(finished=["big.0"], jobs={}, abort=None)  # the first half was done by an earlier attempt
    stats = world.run([_row("big", texts)], lookup=True, known=known)
    assert {d["doc_id"]: d["error_code"] for d in world.link.docs} == {"big-2": "RequestRejected", "big-3": None}
    assert stats["submits"] == 4  # big, big.1, big.1.0, big.1.1


def test_first_poll_delay_follows_the_observed_latency() -> None:
    assert next_latency([], 2.0) == 2.0
    observed = [1.0] * 9 + [5.0]
    assert next_latency(observed, 2.0) == pytest.approx(5.25)
    assert next_latency([0.4] * 20, 9.0) == pytest.approx(0.65)
