"""The driver engine: the driver process makes every service call; Spark only reads, plans, packs and writes.

For Spark Connect sessions (Databricks serverless, standard access mode), where a UDF cannot reach the
internet nor a server opened by the client. The packed batches stream to the driver (`toLocalIterator`, a
bounded prefetch queue, never the whole corpus); one event loop runs the executor task's scheduler
(`executor._Task`: submit-first window, learned first poll, AIMD on 429, Retry-After, expiry, resubmission
limits) with each resource's full quota; and the ledger is the same `LedgerService`, called in-process
instead of over HTTP, so job ids are committed to `jobs` before they are polled and results are MERGEd in
groups exactly as for the executor engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ctc_spark.config import BatchSettings, EngineSettings, ServiceSettings
from ctc_spark.engine.executor import ExecutorPlan, drive_rows, window_size
from ctc_spark.errors import ConfigError
from ctc_spark.io.connect import is_connect
from ctc_spark.service.transport import MAX_CONNECTIONS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ctc_spark.engine.ledger.server import LedgerService

__all__ = [
    "ENGINES",
    "InProcessLink",
    "Prefetcher",
    "drive_batches",
    "driver_concurrency",
    "driver_plan",
    "select_engine",
]

ENGINES = ("auto", "driver", "executors")
_BUFFER_BATCHES = 2000  # packed batches read ahead of the scheduler: ~50,000 documents at most in memory
_END = object()


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
) -> ExecutorPlan:
    """The scheduler's plan for the one driver "task": every resource's full quota, the whole uncommitted bound."""
    shares = tuple(r.calls_per_minute / 60.0 for r in service.resources)
    expected = 2.0
    return ExecutorPlan(
        service=service,
        project=project,
        deployment=deployment,
        kind=kind,
        shares=shares,
        language=batch.language,
        show_stats=batch.show_stats,
        logging_opt_out=batch.logging_opt_out,
        expected_latency=expected,
        concurrency=driver_concurrency(shares),
        max_in_flight=window_size(sum(shares), expected),
        max_uncommitted=max(1, engine.max_uncommitted_jobs),
        job_deadline_seconds=engine.job_deadline_seconds,
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


def drive_batches(frame: DataFrame, plan: ExecutorPlan, *, buffer: int = _BUFFER_BATCHES) -> list[dict[str, Any]]:
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

    async def lookup(self, batch_ids: list[str]) -> dict[str, Any]:
        return await self._call("/lookup", {"batch_ids": batch_ids})

    async def commit(self, jobs: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._call("/commit", {"jobs": jobs})

    async def events(self, docs: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._call("/events", {"docs": docs, "jobs": jobs})

    async def aclose(self) -> None:
        return None

    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        # A commit blocks until the Delta write is durable: off the event loop, as an HTTP request would be.
        return await asyncio.to_thread(self._service.handle, path, body)


class Prefetcher:
    """Reads rows on a thread into a bounded queue; the scheduler takes what is ready without blocking its loop.

    The bound keeps the driver's memory flat whatever the corpus size: the reader waits while the queue is full.
    """

    def __init__(self, rows: Iterator[Any], buffer: int) -> None:
        self._rows = rows
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, buffer))
        self._stop = threading.Event()
        self._done = False
        self._failure: BaseException | None = None
        self._wake: Callable[[], None] = lambda: None
        self._thread = threading.Thread(target=self._read, name="ctc-prefetch", daemon=True)

    def start(self) -> Prefetcher:
        self._thread.start()
        return self

    def bind(self, wake: Callable[[], None]) -> None:
        """Call `wake` (thread-safe) whenever rows arrive or the input ends."""
        self._wake = wake
        wake()

    def take_ready(self, n: int) -> tuple[list[dict[str, Any]], bool]:
        """Up to `n` rows that are ready now, and whether the input is exhausted.

        Raises:
            BaseException: whatever reading the input raised (a failed Spark job).
        """
        out: list[dict[str, Any]] = []
        while len(out) < n and not self._done:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _END:
                self._done = True
            else:
                out.append(item)
        if self._done and self._failure is not None:
            if out:
                return out, False  # these rows first; the failure on the next call
            raise self._failure
        return out, self._done

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        """Blocking iteration, for a caller without an event loop.

        Raises:
            StopIteration: the input is exhausted.
        """
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is _END:
            self._done = True
            if self._failure is not None:
                raise self._failure
            raise StopIteration
        result: dict[str, Any] = item
        return result

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(timeout=0.1)

    def _read(self) -> None:
        try:
            for row in self._rows:
                item = row.asDict() if hasattr(row, "asDict") else dict(row)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
                self._notify()
        except BaseException as exc:
            self._failure = exc
        finally:
            close = getattr(self._rows, "close", None)
            if close is not None and self._stop.is_set():
                close()
            self._put_end()

    def _put_end(self) -> None:
        while True:
            try:
                self._queue.put(_END, timeout=0.5)
                break
            except queue.Full:
                if self._stop.is_set():
                    return
        self._notify()

    def _notify(self) -> None:
        with contextlib.suppress(RuntimeError):  # the scheduler's loop has ended (an abort): nobody to wake
            self._wake()
