"""A task's entry points: `drive_rows` (driver engine) and `stream_partition` (mapInArrow), on the virtual clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.engine.ledger.protocol import JobRow, LookupReply, Reply, ResultRow
from ctc_spark.engine.task.clock import Clock
from ctc_spark.engine.task.protocol import AnalyzeClient, BatchRow
from ctc_spark.engine.task.runner import OUTPUT_SCHEMA, drive_rows, stream_partition
from ctc_spark.engine.task.settings import TaskSettings
from ctc_spark.service.models import AnalyzeJob, CallStats, ClassScore, DocumentResult, SubmittedJob
from ctc_spark.service.transport import RateLimiter


class _Client:
    """Every job is done at its first poll."""

    def __init__(self, clock: Clock, limiter: RateLimiter, closed: list[str], name: str) -> None:
        self.clock, self.limiter, self.closed, self.name = clock, limiter, closed, name
        self.stats = CallStats()
        self.jobs: dict[str, int] = {}

    async def submit(self, documents: Any, **_: Any) -> SubmittedJob:
        await self.limiter.acquire()
        self.stats.submits += 1
        job_id = f"{self.name}-{len(self.jobs)}"
        self.jobs[job_id] = len(documents)
        return SubmittedJob(job_id, f"http://x/{job_id}", datetime.fromtimestamp(self.clock.now(), timezone.utc))

    async def get_job(self, job: str, **_: Any) -> AnalyzeJob:
        await self.limiter.acquire()
        self.stats.polls += 1
        job_id = job.rsplit("/", 1)[-1]
        docs = tuple(DocumentResult(str(i), (ClassScore("c", 0.5),)) for i in range(self.jobs[job_id]))
        return AnalyzeJob(job_id, "succeeded", documents=docs)

    async def aclose(self) -> None:
        self.closed.append(self.name)


@dataclass
class _Link:
    lookups: list[list[str]] = field(default_factory=list)
    docs: list[ResultRow] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)

    async def lookup(self, batch_ids: list[str]) -> LookupReply:
        self.lookups.append(batch_ids)
        return {"finished": [], "jobs": {}, "abort": None}

    async def commit(self, jobs: list[JobRow]) -> Reply:
        return {"abort": None}

    async def events(self, docs: list[ResultRow], jobs: list[JobRow]) -> Reply:
        self.docs += docs
        return {"abort": None}

    async def aclose(self) -> None:
        self.closed.append("link")


class _Rows:
    def __init__(self, rows: list[BatchRow]) -> None:
        self.rows = rows

    def bind(self, wake: Any) -> None:
        wake()

    def take_ready(self, n: int) -> tuple[list[BatchRow], bool]:
        chunk, self.rows = self.rows[:n], self.rows[n:]
        return chunk, not self.rows


def _settings(clock: Clock, link: _Link, closed: list[str]) -> TaskSettings:
    def client(resource: ResourceSettings, service: ServiceSettings, limiter: RateLimiter) -> AnalyzeClient:
        return _Client(clock, limiter, closed, resource.name)

    resources = tuple(ResourceSettings(f"http://{n}", Secret("k"), 6000, name=n) for n in ("a", "b"))
    return TaskSettings(
        service=ServiceSettings(resources=resources),
        project="p",
        deployment="d",
        kind="single",
        shares=(10.0, 10.0),
        expected_latency=0.5,
        clock=clock,
        client_factory=client,
        link_factory=lambda _settings: link,
    )


def _row(batch: str, resource: str, n: int) -> BatchRow:
    return {
        "action": "submit",
        "batch_id": batch,
        "resource": resource,
        "doc_ids": [f"{batch}-{i}" for i in range(n)],
        "texts": ["t"] * n,
        "text_sha256s": ["s"] * n,
        "job_id": None,
        "operation_location": None,
        "submitted_at": None,
        "attempts": 0,
    }


def test_drive_rows_counts_calls_per_resource_and_outcomes_once_then_closes_everything(clock: Clock) -> None:
    link, closed = _Link(), []
    start = clock.now()
    counters = drive_rows(_settings(clock, link, closed), _Rows([_row("x", "a", 2), _row("y", "b", 3)]))
    assert [(c["resource"], c["submits"], c["polls"]) for c in counters] == [("a", 1, 1), ("b", 1, 1)]
    assert [(c["jobs"], c["docs"]) for c in counters] == [(2, 5), (0, 0)]  # the task's outcomes, on its first row
    assert counters[0]["first_call_at"] == start and len(link.docs) == 5
    assert sorted(closed) == ["a", "b"] and link.closed == ["link"] and link.lookups == []


def test_stream_partition_reads_arrow_batches_asks_the_ledger_first_and_yields_its_counters(clock: Clock) -> None:
    link, closed = _Link(), []
    rows = [_row(f"p{i}", "a", 1) for i in range(70)]
    out = list(stream_partition(_settings(clock, link, closed), iter([pa.RecordBatch.from_pylist(list(rows))])))
    assert len(out) == 1 and out[0].schema.names == [c.split()[0] for c in OUTPUT_SCHEMA.split(", ")]
    assert out[0].column("submits").to_pylist() == [70, 0] and out[0].column("docs").to_pylist() == [70, 0]
    assert sorted(b for ids in link.lookups for b in ids) == sorted(r["batch_id"] for r in rows)  # looked up first
