"""Who makes the service calls: an `Engine` owns its ledger link, its task count, its packing and how it drives.

- `ExecutorEngine` (classic Spark: spark-submit, dedicated clusters, a local master with more quota than one
  task carries): long `mapInArrow` tasks, one per ~50 calls/s of quota, each running the task scheduler
  (`task/`) with its share of every resource's quota, reaching the driver's ledger over HTTP.
- `DriverEngine` (Spark Connect: Databricks serverless, standard access mode, where a UDF can reach neither the
  internet nor a port the client opened; and a local master whose quota one task carries): the batches stream
  to the driver (`toLocalIterator`, a bounded read-ahead, never the whole corpus; a classic session packs them
  there, Spark packs them under Connect) and one event loop runs the same scheduler with each resource's full
  quota, calling the ledger in-process.

Either way a job id is committed to `jobs` before its job is polled, and results are written in groups.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from ctc_spark.config import ENGINE_CHOICES, Settings
from ctc_spark.engine.ledger.address import ledger_address
from ctc_spark.engine.ledger.inprocess import InProcessLink
from ctc_spark.engine.ledger.service import LedgerService
from ctc_spark.engine.ledger.sink import RunTarget
from ctc_spark.engine.ledger.writer import LedgerWriter
from ctc_spark.engine.planning.queries import driver_submits, stage_actions
from ctc_spark.engine.task.prefetch import BUFFER_BATCHES, Prefetcher
from ctc_spark.engine.task.runner import OUTPUT_SCHEMA, TaskCounters, drive_rows, stream_partition
from ctc_spark.engine.task.settings import TaskSettings, task_settings
from ctc_spark.engine.task.throttle import task_share
from ctc_spark.errors import ConfigError
from ctc_spark.io.connect import is_connect, is_local_master
from ctc_spark.service.transport import MAX_CONNECTIONS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ctc_spark.engine.context import RunContext

__all__ = [
    "DriverEngine",
    "Engine",
    "ExecutorEngine",
    "driver_concurrency",
    "driver_task_settings",
    "select_engine",
    "stream_tasks",
]

log = logging.getLogger(__name__)

_CALLS_PER_TASK = 50.0  # calls per second one streaming task drives comfortably


class Engine(Protocol):
    """What the streaming stage asks of an engine (`stage.py`); it never branches on which one it has."""

    name: ClassVar[str]

    def tasks(self, run: RunContext) -> int:
        """Streaming tasks for this run (when there is something to send)."""
        ...

    def actions(self, run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]]) -> DataFrame:
        """The stage's batches (`planning.queries.stage_actions`), partitioned for this engine's tasks."""
        ...

    def ledger(self, run: RunContext, target: RunTarget, **writer: Any) -> LedgerService:
        """The run's ledger service, served the way this engine's tasks reach it."""
        ...

    def drive(
        self, run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]], service: LedgerService, tasks: int
    ) -> list[TaskCounters]:
        """Drive every batch of the run (its `actions`, or the same batches packed its own way) to a terminal
        outcome; one counter row per task and resource."""
        ...


class ExecutorEngine:
    """Streaming `mapInArrow` tasks on the executors, reaching the driver's ledger over HTTP."""

    name: ClassVar[str] = "executors"

    def __repr__(self) -> str:
        return "ExecutorEngine()"

    def tasks(self, run: RunContext) -> int:
        parallelism = int(run.spark.sparkContext.defaultParallelism)
        quota = run.settings.service.total_calls_per_minute / 60.0
        return stream_tasks(parallelism, quota, run.settings.engine.tasks)

    def actions(self, run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]]) -> DataFrame:
        # A new run packs straight into the streaming tasks' partitions, in the streaming stage itself: the
        # first batches go out while the rest is still being packed. A dry run packs the same way. Resumed
        # polls and new batches are spread over the tasks, each of which holds its share of the quota.
        tasks = self.tasks(run)
        if not resumed:
            return stage_actions(run, valid, resumed, parts=tasks)
        return stage_actions(run, valid, resumed).repartition(tasks)

    def ledger(self, run: RunContext, target: RunTarget, **writer: Any) -> LedgerService:
        sc = run.spark.sparkContext
        conf = {k: v for k, v in sc.getConf().getAll() if k in ("spark.driver.host", "spark.driver.bindAddress")}
        address = ledger_address(str(sc.master), conf, run.settings.engine.ledger_host)
        if str(sc.getConf().get("spark.speculation", "false")).lower() == "true":
            log.warning(
                "spark.speculation is on: a speculative copy of a streaming task submits its batches again "
                "(paid twice); turn it off for classification runs"
            )
        return LedgerService.for_run(
            run.spark, run.tables, target, serve=True, host=address.advertised, bind=address.bind, **writer
        )

    def drive(
        self, run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]], service: LedgerService, tasks: int
    ) -> list[TaskCounters]:
        frame = self.actions(run, valid, resumed)
        svc = run.settings.service
        plan = task_settings(
            svc,
            run.settings.batch,
            run.settings.engine,
            project=run.project,
            deployment=run.deployment,
            kind=run.kind,
            shares=tuple(task_share(r.calls_per_minute, tasks) for r in svc.resources),
            max_uncommitted=max(1, run.settings.engine.max_uncommitted_jobs // tasks),
            ledger_url=service.url,
            ledger_token=service.token,
        )
        rows = frame.mapInArrow(partial(stream_partition, plan), OUTPUT_SCHEMA).collect()
        return [cast(TaskCounters, r.asDict()) for r in rows]


class DriverEngine:
    """The driver process makes every call; Spark only reads, plans, packs and writes."""

    name: ClassVar[str] = "driver"

    def __repr__(self) -> str:
        return "DriverEngine()"

    def tasks(self, run: RunContext) -> int:
        return 1  # the driver process is the one streaming "task"

    def actions(self, run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]]) -> DataFrame:
        return stage_actions(run, valid, resumed)  # about 1,000 documents a partition under Connect

    def ledger(self, run: RunContext, target: RunTarget, **writer: Any) -> LedgerService:
        return LedgerService.for_run(run.spark, run.tables, target, serve=False, **writer)

    def drive(
        self, run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]], service: LedgerService, tasks: int
    ) -> list[TaskCounters]:
        plan = driver_task_settings(run.settings, run.project, run.deployment, run.kind, service.writer)
        # A classic session packs new batches here, as the plan streams in (no shuffle, no Python worker); Spark
        # packs under Connect (partitions sized for the client's memory) and when open jobs are resumed.
        local = not resumed and not is_connect(run.spark)
        rows = driver_submits(run, valid) if local else self.actions(run, valid, resumed).toLocalIterator()
        source = Prefetcher(rows, BUFFER_BATCHES)
        source.start()
        try:
            return drive_rows(plan, source)
        finally:
            source.close()


_ENGINES: dict[str, Callable[[], Engine]] = {ExecutorEngine.name: ExecutorEngine, DriverEngine.name: DriverEngine}


def select_engine(configured: str, spark: object, *, calls_per_second: float = math.inf) -> Engine:
    """The engine for `configured` (`config.ENGINE_CHOICES`): `auto` gives the driver engine to Spark Connect
    sessions and to a local master whose quota (`calls_per_second`, summed over resources) one streaming task
    carries (`_one_local_task`); other classic sessions get the executors.

    Raises:
        ConfigError: an unknown engine, or the executor engine asked of a Spark Connect session.
    """
    if configured not in ENGINE_CHOICES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINE_CHOICES)}, not {configured!r}", key="engine.engine")
    connect = is_connect(spark)
    if configured == ExecutorEngine.name and connect:
        raise ConfigError(
            "the executor engine needs a classic Spark session (sparkContext, executors that reach the driver); "
            "this is a Spark Connect session: use --engine driver or auto",
            key="engine.engine",
        )
    if configured == "auto":
        local = not connect and _one_local_task(spark, calls_per_second)
        configured = DriverEngine.name if connect or local else ExecutorEngine.name
        why = "Spark Connect" if connect else "a local master, one task's quota" if local else "a classic session"
        log.info("engine auto: %s (%s)", configured, why)
    return _ENGINES[configured]()


def _one_local_task(spark: object, calls_per_second: float) -> bool:
    """A local master (`local`, `local[N]`, `local[N, F]`; not `local-cluster`, whose executors are processes)
    with a quota that one streaming task carries.

    There the executor is the driver's own JVM, and the executor engine would run that one task as a Python
    worker process beside the driver, reaching the ledger over HTTP and holding a slot; the driver engine runs
    the same scheduler in the driver process, with no worker to start and the ledger in-process. A lost
    executor is the driver either way.
    """
    return is_local_master(spark) and calls_per_second <= _CALLS_PER_TASK


def stream_tasks(parallelism: int, calls_per_second: float, configured: int = 0) -> int:
    """Tasks for the streaming stage: one per ~50 calls/s of quota, always leaving a slot for the commits.

    The driver's Delta commits run as Spark jobs while the streaming tasks hold their slots, so at least
    one slot must stay free.

    Raises:
        ConfigError: fewer than two task slots, or `engine.tasks` leaves none free.
    """
    if parallelism < 2:
        raise ConfigError(
            f"classification needs at least 2 task slots (one streams, one commits); this session "
            f"has {parallelism} — use local[2] or more",
            key="spark.master",
        )
    if configured:
        if configured >= parallelism:
            raise ConfigError(
                f"engine.tasks = {configured} leaves no slot free for the ledger's commits ({parallelism} slots)",
                key="engine.tasks",
            )
        return configured
    return max(1, min(parallelism - 1, math.ceil(calls_per_second / _CALLS_PER_TASK)))


def driver_concurrency(shares: Sequence[float]) -> int:
    """Requests in flight: about two seconds of the whole quota, so slow answers never idle the bucket, but no
    more than the resources' HTTP connections (`MAX_CONNECTIONS` each).

    Past the connections the requests only queue inside httpx, whose pool scans its queue on every request: at
    60,000 calls/min two thousand queued requests spun the driver at 100% CPU making almost no calls.
    """
    return max(32, min(MAX_CONNECTIONS * max(1, len(shares)), math.ceil(2 * sum(shares))))


def driver_task_settings(
    settings: Settings, project: str, deployment: str, kind: str, writer: LedgerWriter
) -> TaskSettings:
    """The scheduler's settings for the one driver "task": every resource's full quota, the whole uncommitted
    bound, and the ledger in-process."""
    shares = tuple(r.calls_per_minute / 60.0 for r in settings.service.resources)
    return task_settings(
        settings.service,
        settings.batch,
        settings.engine,
        project=project,
        deployment=deployment,
        kind=kind,
        shares=shares,
        max_uncommitted=max(1, settings.engine.max_uncommitted_jobs),
        concurrency=driver_concurrency(shares),
        link_factory=lambda _plan: InProcessLink(writer),
    )
