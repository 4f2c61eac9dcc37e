"""The driver engine: the driver process makes every service call; Spark only reads, plans, packs and writes.

For Spark Connect sessions (Databricks serverless, standard access mode), where a UDF cannot reach the
internet nor a server opened by the client. The packed batches stream to the driver (`toLocalIterator`, a
bounded prefetch queue, never the whole corpus); one event loop runs the executor task's scheduler
(`scheduler.Scheduler`: submit-first window, learned first poll, AIMD on 429, Retry-After, expiry, resubmission
limits) with each resource's full quota; and the ledger is the same `LedgerService`, called in-process
instead of over HTTP, so job ids are committed to `jobs` before they are polled and results are MERGEd in
groups exactly as for the executor engine.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from ctc_spark.config import BatchSettings, EngineSettings, ServiceSettings
from ctc_spark.engine.ledger.protocol import JobRow, LookupReply, Reply, ResultRow
from ctc_spark.engine.task.prefetch import BUFFER_BATCHES, Prefetcher
from ctc_spark.engine.task.runner import TaskCounters, drive_rows
from ctc_spark.engine.task.settings import TaskSettings, task_settings
from ctc_spark.errors import ConfigError
from ctc_spark.io.connect import is_connect
from ctc_spark.service.transport import MAX_CONNECTIONS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ctc_spark.engine.ledger.server import LedgerService

__all__ = [
    "ENGINES",
    "InProcessLink",
    "drive_batches",
    "driver_concurrency",
    "driver_plan",
    "select_engine",
]

ENGINES = ("auto", "driver", "executors")


def select_engine(configured: str, spark: Any) -> str:
    """ "driver" or "executors": `auto` gives Spark Connect sessions the driver engine, classic ones the executors.

    Raises:
        ConfigError: an unknown engine, or the executor engine asked of a Spark Connect session.
    """
    if configured not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, not {configured!r}", key="engine.engine")
    connect = is_connect(spark)
    if configured == "executors" and connect:
        raise ConfigError(
            "the executor engine needs a classic Spark session (sparkContext, executors that reach the driver); "
            "this is a Spark Connect session: use --engine driver or auto",
            key="engine.engine",
        )
    if configured == "auto":
        return "driver" if connect else "executors"
    return configured


def driver_plan(
    service: ServiceSettings,
    batch: BatchSettings,
    engine: EngineSettings,
    *,
    project: str,
    deployment: str,
    kind: str,
    ledger: LedgerService,
    client_factory: Callable[..., Any] | None = None,
) -> TaskSettings:
    """The scheduler's plan for the one driver "task": every resource's full quota, the whole uncommitted bound."""
    shares = tuple(r.calls_per_minute / 60.0 for r in service.resources)
    return task_settings(
        service,
        batch,
        engine,
        project=project,
        deployment=deployment,
        kind=kind,
        shares=shares,
        max_uncommitted=max(1, engine.max_uncommitted_jobs),
        concurrency=driver_concurrency(shares),
        client_factory=client_factory,
        link_factory=lambda _plan: InProcessLink(ledger),
    )


def driver_concurrency(shares: Sequence[float]) -> int:
    """Requests in flight: about two seconds of the whole quota, so slow answers never idle the bucket, but no
    more than the resources' HTTP connections (`MAX_CONNECTIONS` each).

    Past the connections the requests only queue inside httpx, whose pool scans its queue on every request: at
    60,000 calls/min two thousand queued requests spun the driver at 100% CPU making almost no calls.
    """
    return max(32, min(MAX_CONNECTIONS * max(1, len(shares)), math.ceil(2 * sum(shares))))


def drive_batches(frame: DataFrame, plan: TaskSettings, *, buffer: int = BUFFER_BATCHES) -> list[TaskCounters]:
    """Stream `frame` (`ACTION_SCHEMA` rows) to the driver and drive every batch; one counter row per resource."""
    source = Prefetcher(frame.toLocalIterator(), buffer)
    source.start()
    try:
        return drive_rows(plan, source)
    finally:
        source.close()


class InProcessLink:
    """The ledger link of the driver engine: `LedgerService.handle` in a worker thread, no socket, no token."""

    def __init__(self, service: LedgerService) -> None:
        self._service = service

    def __repr__(self) -> str:
        return f"InProcessLink({self._service.target.run_id!r})"

    async def lookup(self, batch_ids: list[str]) -> LookupReply:
        return cast(LookupReply, await self._call("/lookup", {"batch_ids": batch_ids}))

    async def commit(self, jobs: list[JobRow]) -> Reply:
        return cast(Reply, await self._call("/commit", {"jobs": jobs}))

    async def events(self, docs: list[ResultRow], jobs: list[JobRow]) -> Reply:
        return cast(Reply, await self._call("/events", {"docs": docs, "jobs": jobs}))

    async def aclose(self) -> None:
        return None

    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # A commit blocks until the Delta write is durable: off the event loop, as an HTTP request would be.
        return await asyncio.to_thread(self._service.handle, path, body)
