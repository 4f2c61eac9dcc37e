"""The streaming task's scheduling and outcome mapping, against an in-memory client and ledger (no Spark)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.engine.task.runner import _drive
from ctc_spark.engine.task.settings import ExecutorPlan
from ctc_spark.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    SubmitOutcomeUnknownError,
    TransientServiceError,
)

LATENCY = 0.2


@dataclass
class _Stats:
    submits: int = 0
    polls: int = 0
    retries: int = 0
    throttled: int = 0


@dataclass(frozen=True)
class _Doc:
    id: str
    text: str
    language: str = "en"


@dataclass(frozen=True)
class _Score:
    category: str
    confidence: float


@dataclass(frozen=True)
class _Result:
    id: str
    classes: tuple[_Score, ...]
    error_code: str | None = None
    error_message: str | None = None
    characters: int | None = None


@dataclass(frozen=True)
class _Job:
    job_id: str
    status: str
    created: datetime
    last_updated: datetime
    expires: datetime
    documents: tuple[_Result, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Submitted:
    job_id: str
    operation_location: str
    submitted_at: datetime


@dataclass
class _Service:
    """A tiny service: jobs finish LATENCY seconds after submission; behaviours keyed by the first text."""

    jobs: dict[str, tuple[float, list[str]]] = field(default_factory=dict)
    poll_times: dict[str, list[float]] = field(default_factory=dict)
    submit_times: list[float] = field(default_factory=list)


SERVICE = _Service()
ONCE: set[str] = set()


class _Client:
    def __init__(self, limiter: Any, stats: _Stats) -> None:
        self.limiter, self.stats = limiter, stats

    async def submit(self, docs: list[_Doc], **_: Any) -> _Submitted:
        await self.limiter.acquire()
        self.stats.submits += 1
        if docs[0].text == "lost":
            raise SubmitOutcomeUnknownError("connection dropped after sending")
        if docs[0].text == "busy":
            raise TransientServiceError("503 after retries", status=503)
        if docs[0].text == "rejected":
            raise InvalidRequestError("too many documents", status=400, code="InvalidArgument")
        if docs[0].text == "nodeploy":
            raise InvalidRequestError(
                "no such deployment", status=400, code="InvalidArgument", inner_code="DeploymentNotFound"
            )
        if docs[0].text == "badkey":
            raise AuthenticationError("access denied", status=401)
        if docs[0].text.startswith("once-") and docs[0].text not in ONCE:
            ONCE.add(docs[0].text)  # this text's first job is purged before anyone polls it
            return _Submitted("job-purged", "http://x/jobs/job-purged", datetime.now(timezone.utc))
        SERVICE.submit_times.append(time.time())
        LINK.uncommitted_peak = max(LINK.uncommitted_peak, len(SERVICE.jobs) + 1 - LINK.committed_jobs)
        job_id = f"job-{len(SERVICE.jobs)}"
        SERVICE.jobs[job_id] = (time.time(), [d.text for d in docs])
        return _Submitted(job_id, f"http://x/jobs/{job_id}", datetime.now(timezone.utc))

    async def get_job(self, job: str, *, show_stats: bool = False, expected_ids: Any = None) -> _Job:
        await self.limiter.acquire()
        self.stats.polls += 1
        job_id = job.rsplit("/", 1)[-1]
        SERVICE.poll_times.setdefault(job_id, []).append(time.time())
        if job_id not in SERVICE.jobs:
            raise NotFoundError("job not found", status=404)
        started, texts = SERVICE.jobs[job_id]
        created = datetime.fromtimestamp(started, timezone.utc)
        done = texts[0] != "slow" and time.time() - started >= LATENCY
        if not done:
            return _Job(job_id, "running", created, created, created + timedelta(days=1))
        if texts[0] == "doomed":
            return _Job(job_id, "failed", created, created, created + timedelta(days=1), (), (("InternalError", "x"),))
        docs = tuple(_Result(str(i), (_Score(t, 0.9),), characters=len(t)) for i, t in enumerate(texts))
        return _Job(job_id, "succeeded", created, created + timedelta(seconds=LATENCY), created, docs)

    async def aclose(self) -> None:
        pass


def _factory(resource: ResourceSettings, service: ServiceSettings, limiter: Any) -> tuple[Any, Any, Any]:
    stats = _Stats()
    return _Client(limiter, stats), stats, _Doc


@dataclass
class _Link:
    """The driver's ledger in memory: commits take `commit_seconds`; every call is recorded."""

    commit_seconds: float = 0.0
    commits: list[tuple[float, list[dict[str, Any]]]] = field(default_factory=list)
    docs: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    known: dict[str, Any] = field(default_factory=dict)
    abort: str | None = None
    committed_jobs: int = 0
    uncommitted_peak: int = 0

    async def lookup(self, batch_ids: list[str]) -> dict[str, Any]:
        return self.known

    async def commit(self, jobs: list[dict[str, Any]]) -> dict[str, Any]:
        await asyncio.sleep(self.commit_seconds)
        self.commits.append((time.time(), jobs))
        self.committed_jobs += len(jobs)
        return {"abort": self.abort}

    async def events(self, docs: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> dict[str, Any]:
        self.docs += docs
        self.jobs += jobs
        return {"abort": self.abort}

    async def aclose(self) -> None:
        pass


LINK = _Link()


def _link(plan: ExecutorPlan) -> _Link:
    return LINK


def _plan(**kw: Any) -> ExecutorPlan:
    service = ServiceSettings(resources=(ResourceSettings("http://x", Secret("k"), 60_000, name="r"),))
    fields: dict[str, Any] = {
        "service": service,
        "project": "p",
        "deployment": "d",
        "kind": "single",
        "shares": (500.0,),
        "expected_latency": LATENCY + 0.05,
        "flush_seconds": 0.05,
        "client_factory": _factory,
        "link_factory": _link,
    }
    fields.update(kw)
    return ExecutorPlan(**fields)


def _row(batch: str, texts: list[str], **job: Any) -> dict[str, Any]:
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
        **job,
    }


def _run(rows: list[dict[str, Any]], *, lookup: bool = False, **kw: Any) -> dict[str, Any]:
    global LINK
    LINK = _Link(commit_seconds=kw.pop("commit_seconds", 0.0), known=kw.pop("known", {}), abort=kw.pop("abort", None))
    stats = asyncio.run(_drive(_plan(**kw), iter(rows), lookup=lookup))
    return stats[0]


def _finals(link: _Link) -> dict[str, dict[str, Any]]:
    return {j["batch_id"]: j for j in link.jobs if j["terminal"]}


def test_a_job_costs_one_submit_and_one_poll_and_is_committed_before_it_is_polled() -> None:
    stats = _run([_row(f"b{i}", ["sports", "travel"]) for i in range(10)])
    assert (stats["submits"], stats["polls"], stats["jobs"], stats["docs"]) == (10, 10, 10, 20)
    committed_at = {j["job_id"]: at for at, jobs in LINK.commits for j in jobs}
    assert len(committed_at) == 10 and all(j["status"] == "submitted" for _, js in LINK.commits for j in js)
    for job_id, at in committed_at.items():
        assert SERVICE.poll_times[job_id][0] >= at, "a job was polled before its id was committed"
    docs = {d["doc_id"]: d for d in LINK.docs}
    assert len(docs) == 20 and docs["b3-1"]["category"] == "travel" and docs["b3-1"]["error_code"] is None
    assert docs["b3-1"]["job_id"] == _finals(LINK)["b3"]["job_id"]
    assert {j["status"] for j in _finals(LINK).values()} == {"succeeded"}


def test_polls_wait_for_the_expected_completion_time() -> None:
    _run([_row("early", ["a"])], expected_latency=0.5)
    job_id = LINK.commits[0][1][0]["job_id"]
    first = SERVICE.poll_times[job_id][0]
    assert first - LINK.commits[0][1][0]["submitted_at"] >= 0.45


def test_submitted_but_uncommitted_jobs_stay_under_the_bound() -> None:
    SERVICE.jobs.clear()
    stats = _run([_row(f"u{i}", ["sports"]) for i in range(40)], max_uncommitted=3, commit_seconds=0.05)
    assert stats["jobs"] == 40 and len(LINK.commits) >= 40 // 3
    assert LINK.uncommitted_peak <= 3, f"{LINK.uncommitted_peak} jobs were submitted but not committed at once"


def test_submits_come_before_polls_while_the_window_has_room() -> None:
    SERVICE.submit_times.clear()
    _run([_row(f"w{i}", ["sports"]) for i in range(30)], max_in_flight=100)
    mine = {j["job_id"] for _, js in LINK.commits for j in js}
    first_poll = min(t for job_id in mine for t in SERVICE.poll_times[job_id])
    assert len(mine) == 30 and max(SERVICE.submit_times[-30:]) <= first_poll  # the whole window was submitted first


def test_unfinished_jobs_are_polled_again_at_half_the_latency() -> None:
    stats = _run([_row("s", ["slow"])], expected_latency=0.0, job_deadline_seconds=1.6)
    job_ids = [j["job_id"] for _, js in LINK.commits for j in js]
    assert 2 <= len(SERVICE.poll_times[job_ids[0]]) <= 5  # half-latency spacing, at least 0.5 s apart
    final = _finals(LINK)["s"]
    assert final["status"] == "failed" and "still running" in final["last_error"] and stats["resubmits"] == 2


def test_every_failure_becomes_retries_then_error_rows_not_exceptions() -> None:
    rows = [_row("lost", ["lost"]), _row("busy", ["busy"]), _row("doomed", ["doomed"]), _row("rej", ["rejected"])]
    stats = _run(rows)
    finals = _finals(LINK)
    assert finals["lost"]["status"] == "unknown" and "SubmitOutcomeUnknownError" in finals["lost"]["last_error"]
    assert finals["busy"]["status"] == "failed" and finals["doomed"]["status"] == "failed"
    assert "InternalError" in finals["doomed"]["last_error"]
    assert finals["rej"]["status"] == "rejected" and finals["rej"]["attempts"] == 1
    assert all(finals[b]["attempts"] == 3 for b in ("lost", "busy", "doomed"))
    assert stats["resubmits"] == 6
    codes = {d["doc_id"]: d["error_code"] for d in LINK.docs}
    assert codes == {
        "lost-0": "SubmitOutcomeUnknown",
        "busy-0": "JobFailed",
        "doomed-0": "JobFailed",
        "rej-0": "RequestRejected",
    }


def test_a_purged_job_is_submitted_again() -> None:
    stats = _run([_row("gone", ["once-gone"])])
    assert [j["status"] for j in LINK.jobs] == ["expired", "succeeded"] and stats["resubmits"] == 1
    assert [d["category"] for d in LINK.docs] == ["once-gone"]


def test_a_refused_deployment_or_key_stops_the_task() -> None:
    for text in ("nodeploy", "badkey"):
        stats = _run([_row("x", [text])] + [_row(f"y{i}", ["sports"]) for i in range(50)], concurrency=1)
        assert _finals(LINK)["x"]["status"] == "fatal"
        assert stats["submits"] < 51, "the task went on submitting after a fatal answer"


def test_an_abort_from_the_driver_stops_the_task() -> None:
    stats = _run(
        [_row(f"a{i}", ["sports"]) for i in range(200)],
        abort="the service refused the run",
        concurrency=1,
        shares=(100.0,),
    )
    assert stats["submits"] < 200


def test_a_retried_spark_task_polls_committed_jobs_and_skips_finished_batches() -> None:
    first = _run([_row("c", ["sports"])])
    assert first["submits"] == 1
    job = LINK.commits[0][1][0]
    known = {
        "finished": ["f"],
        "jobs": {"c": {k: job[k] for k in ("job_id", "operation_location", "submitted_at", "attempts")}},
    }
    stats = _run([_row("c", ["sports"]), _row("f", ["travel"]), _row("n", ["travel"])], lookup=True, known=known)
    assert (stats["submits"], stats["polls"]) == (1, 2)  # only "n" is new; "c" is polled; "f" is done
    assert {d["doc_id"] for d in LINK.docs} == {"c-0", "n-0"}


def test_a_resumed_job_is_polled_not_resubmitted() -> None:
    first = _run([_row("r", ["sports"])])
    assert first["submits"] == 1
    job = LINK.commits[0][1][0]
    stats = _run(
        [
            _row(
                "r",
                ["sports"],
                job_id=job["job_id"],
                operation_location=job["operation_location"],
                submitted_at=job["submitted_at"],
                attempts=1,
            )
        ]
    )
    assert (stats["submits"], stats["polls"]) == (0, 1) and LINK.docs[0]["category"] == "sports"


class _SlowLink(_Link):
    """A ledger whose `events` takes longer than a flush period: a flush is always in progress."""

    async def events(self, docs: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> dict[str, Any]:
        await asyncio.sleep(0.3)
        return await super().events(docs, jobs)


def test_a_flush_in_progress_when_the_work_ends_still_reaches_the_ledger() -> None:
    global LINK
    LINK = _SlowLink()
    rows = [_row(f"z{i}", ["sports"]) for i in range(3)] + [_row("late", ["slow"])]
    asyncio.run(_drive(_plan(flush_seconds=0.05, job_deadline_seconds=0.4, max_attempts=1), iter(rows)))
    assert {d["doc_id"] for d in LINK.docs} == {"z0-0", "z1-0", "z2-0", "late-0"}
