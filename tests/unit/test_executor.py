"""The stage body's scheduling and outcome mapping, against an in-memory client (no Spark, no socket)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.errors import NotFoundError, SubmitOutcomeUnknownError, TransientServiceError
from ctc_spark.executor import ExecutorPlan, _drive

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


SERVICE = _Service()


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


def _plan(**kw: Any) -> ExecutorPlan:
    service = ServiceSettings(resources=(ResourceSettings("http://x", Secret("k"), 60_000, name="r"),))
    fields: dict[str, Any] = {"service": service, "project": "p", "deployment": "d", "kind": "single",
                              "shares": (500.0,), "expected_latency": LATENCY + 0.05,
                              "client_factory": _factory}  # fmt: skip
    fields.update(kw)
    return ExecutorPlan(**fields)


def _submit_row(batch: str, texts: list[str]) -> dict[str, Any]:
    return {"action": "submit", "batch_id": batch, "resource": "r",
            "doc_ids": [f"{batch}-{i}" for i in range(len(texts))],
            "texts": texts, "text_sha256s": ["s"] * len(texts), "job_id": None, "operation_location": None,
            "submitted_at": None}  # fmt: skip


def _poll_row(batch: str, job: dict[str, Any]) -> dict[str, Any]:
    return {**_submit_row(batch, ["x"] * len(job["doc_ids"])), "action": "poll", "texts": None,
            "job_id": job["job_id"], "operation_location": job["operation_location"],
            "submitted_at": job["submitted_at"]}  # fmt: skip


def _jobs(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["batch_id"]: r for r in rows if r["row_type"] == "job"}


def test_a_job_costs_one_submit_and_one_poll_when_polled_after_its_latency() -> None:
    submitted = asyncio.run(_drive(_plan(), [_submit_row(f"b{i}", ["sports", "travel"]) for i in range(10)]))
    jobs = _jobs(submitted)
    assert {j["status"] for j in jobs.values()} == {"submitted"} and len(jobs) == 10
    polled = asyncio.run(_drive(_plan(), [_poll_row(b, j) for b, j in jobs.items()]))
    stats = next(r for r in polled if r["row_type"] == "stats")
    assert (stats["polls"], stats["submits"]) == (10, 0)
    docs = {r["doc_id"]: r for r in polled if r["row_type"] == "doc"}
    assert len(docs) == 20 and docs["b3-1"]["category"] == "travel" and docs["b3-1"]["job_id"] == jobs["b3"]["job_id"]
    assert all(j["status"] == "succeeded" and j["latency"] is not None for j in _jobs(polled).values())


def test_polls_wait_for_the_expected_completion_time() -> None:
    job = _jobs(asyncio.run(_drive(_plan(), [_submit_row("early", ["a"])])))["early"]
    asyncio.run(_drive(_plan(expected_latency=0.5), [_poll_row("early", job)]))
    first = SERVICE.poll_times[job["job_id"]][0]
    assert first - job["submitted_at"] >= 0.45


def test_unfinished_jobs_are_polled_again_then_handed_back_open() -> None:
    job = _jobs(asyncio.run(_drive(_plan(), [_submit_row("s", ["slow"])])))["s"]
    out = asyncio.run(_drive(_plan(expected_latency=0.0, poll_patience=1.2), [_poll_row("s", job)]))
    assert _jobs(out)["s"]["status"] == "open"
    assert 2 <= len(SERVICE.poll_times[job["job_id"]]) <= 4  # half-latency spacing, at least 0.5 s apart


def test_every_failure_becomes_a_status_not_an_exception() -> None:
    rows = [_submit_row("lost", ["lost"]), _submit_row("busy", ["busy"]), _submit_row("doomed", ["doomed"])]
    jobs = _jobs(asyncio.run(_drive(_plan(), rows)))
    assert jobs["lost"]["status"] == "unknown" and "SubmitOutcomeUnknownError" in jobs["lost"]["last_error"]
    assert jobs["busy"]["status"] == "failed"
    gone = {**jobs["doomed"], "job_id": "job-missing", "operation_location": "http://x/jobs/job-missing"}
    polled = _jobs(asyncio.run(_drive(_plan(), [_poll_row("doomed", jobs["doomed"]), _poll_row("gone", gone)])))
    assert polled["doomed"]["status"] == "failed" and "InternalError" in polled["doomed"]["last_error"]
    assert polled["gone"]["status"] == "expired"
