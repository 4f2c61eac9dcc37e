"""A streaming task's entry points: one long task per slot drives its batches to terminal outcomes.

`stream_partition` (the mapInArrow body) reads the partition on a thread and runs one `Scheduler`
(`scheduler.py`) on a new event loop, with a client per resource and a link to the driver's ledger;
`drive_rows` runs the same for the driver engine. Each returns one row of call counters per resource: results
and job states reach the driver through the ledger, not through the task's output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from ctc_spark.config import ResourceSettings, ServiceSettings
from ctc_spark.engine.ledger.protocol import arrow_schema
from ctc_spark.engine.task.clock import Clock
from ctc_spark.engine.task.prefetch import BUFFER_BATCHES, Prefetcher
from ctc_spark.engine.task.scheduler import READ_CHUNK, Scheduler
from ctc_spark.engine.task.settings import TaskSettings
from ctc_spark.engine.task.throttle import AdaptiveLimiter, burst_share

if TYPE_CHECKING:
    import pyarrow as pa

    from ctc_spark.engine.ledger.protocol import Ledger
    from ctc_spark.engine.task.protocol import AnalyzeClient, BatchSource
    from ctc_spark.service.transport import RateLimiter

__all__ = ["OUTPUT_SCHEMA", "TaskCounters", "drive_rows", "stream_partition"]

_T = TypeVar("_T")

OUTPUT_SCHEMA = (
    "resource STRING, submits LONG, polls LONG, retries LONG, throttled LONG, resubmits LONG, jobs LONG, "
    "docs LONG, first_call_at DOUBLE"
)


class TaskCounters(TypedDict):
    """What a task returns, per resource: its calls (the client's `CallStats`) and its outcomes (on the first)."""

    resource: str
    submits: int
    polls: int
    retries: int
    throttled: int
    resubmits: int
    jobs: int
    docs: int
    first_call_at: float | None


def drive_rows(settings: TaskSettings, source: BatchSource, *, lookup: bool = False) -> list[TaskCounters]:
    """Drive the source's batches to terminal outcomes on a new event loop; one counter row per resource.

    The same scheduler as a streaming task, for the driver engine (and tests). `lookup` asks the ledger first
    what an earlier attempt of the task already did.
    """
    return _run_loop(_drive(settings, source, lookup=lookup))


def stream_partition(settings: TaskSettings, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: drive every batch of this partition to a terminal outcome; yield call counters."""
    import pyarrow as pa

    # The partition is read on a thread: packing runs upstream in the same stage, and the event loop must not
    # wait for it while jobs are due to be polled.
    source = Prefetcher(_rows(batches), BUFFER_BATCHES).start()
    try:
        # Every task asks the ledger what is already committed (an in-memory answer, one per 64 batches): a task
        # retried after a lost executor may run in a new stage attempt, whose attempt numbers restart at 0.
        rows = _run_loop(_drive(settings, source, lookup=True))
    finally:
        source.close()
    yield pa.RecordBatch.from_pylist(list(rows), schema=arrow_schema(TaskCounters))


def _run_loop(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run on uvloop when it is installed (a third of the loop's CPU at high call rates), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    result: _T = uvloop.run(coro)
    return result


def _rows(batches: Iterator[pa.RecordBatch]) -> Iterator[dict[str, Any]]:
    for rb in batches:
        for start in range(0, rb.num_rows, READ_CHUNK):
            yield from rb.slice(start, READ_CHUNK).to_pylist()


def _real_client(resource: ResourceSettings, service: ServiceSettings, limiter: RateLimiter) -> AnalyzeClient:
    from ctc_spark.service.runtime import AsyncRuntimeClient

    return AsyncRuntimeClient(resource, service, limiter=limiter)


def _real_link(settings: TaskSettings) -> Ledger:
    from ctc_spark.engine.ledger.client import LedgerLink

    link: Ledger = LedgerLink(settings.ledger_url, settings.ledger_token)
    return link


def _limiter(resource: ResourceSettings, share: float, clock: Clock) -> AdaptiveLimiter:
    """A task's limiter for one resource: `share` calls per second, and the same fraction of its burst."""
    burst = burst_share(resource.burst_calls, resource.calls_per_minute, share)
    return AdaptiveLimiter(share, burst_calls=burst, clock=clock.monotonic, sleep=clock.sleep)


async def _drive(settings: TaskSettings, source: BatchSource, *, lookup: bool) -> list[TaskCounters]:
    clock, factory = settings.clock, settings.client_factory or _real_client
    clients = {
        r.name: factory(r, settings.service, _limiter(r, share, clock))
        for r, share in zip(settings.service.resources, settings.shares, strict=True)
    }
    link = (settings.link_factory or _real_link)(settings)
    task = Scheduler(settings, source, clients, link, lookup=lookup)
    try:
        await task.run()
    finally:
        for client in clients.values():
            await client.aclose()
        await link.aclose()
    return [
        TaskCounters(
            resource=name,
            submits=client.stats.submits,
            polls=client.stats.polls,
            retries=client.stats.retries,
            throttled=client.stats.throttled,
            resubmits=task.counts["resubmits"] if i == 0 else 0,
            jobs=task.counts["jobs"] if i == 0 else 0,
            docs=task.counts["docs"] if i == 0 else 0,
            first_call_at=task.first_call_at,
        )
        for i, (name, client) in enumerate(clients.items())
    ]
