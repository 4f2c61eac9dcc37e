"""The streaming stage: the run's batches submitted and polled while the driver's ledger service records them.

Each task submits and polls continuously (`executor.py`, its scheduler in `scheduler.py`) while the ledger
service (`ledger/server.py`) commits every submitted job id to `jobs` before the job is polled, and MERGEs
results into `results` as they arrive. Under Spark Connect (or `engine = "driver"`) the same scheduler runs in
the driver process instead (`driver.py`). A dry run counts the stage's actions instead of streaming them
(`preview_plan`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from ctc_spark.engine.context import RunContext, RunSummary
from ctc_spark.engine.engines import drive_batches, driver_plan
from ctc_spark.engine.ledger.address import LedgerAddress, ledger_address
from ctc_spark.engine.ledger.server import LedgerService, RunTarget
from ctc_spark.engine.planning.estimate import check_budget
from ctc_spark.engine.planning.preview import plan_from_actions
from ctc_spark.engine.planning.queries import stage_actions
from ctc_spark.engine.task.runner import OUTPUT_SCHEMA, stream_partition
from ctc_spark.engine.task.settings import TaskSettings, task_settings
from ctc_spark.engine.task.throttle import task_share
from ctc_spark.errors import ConfigError, CTCError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["preview_plan", "run_stream", "stream_tasks", "tally_outputs"]

log = logging.getLogger(__name__)

_PROGRESS_SECONDS = 5.0
_CALLS_PER_TASK = 50.0  # calls per second one streaming task drives comfortably


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


def preview_plan(run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]], *, todo: int, invalid: int) -> None:
    """Count the plan (one Spark job), report it, and refuse it when it bills more than the cap."""
    s = run.summary
    s.plan = plan_from_actions(
        stage_actions(run, valid, resumed, parts=_packing_parts(run, resumed)),
        input_docs=s.input_docs,
        skipped_docs=s.input_docs - todo,
        invalid_docs=invalid,
        calls_per_minute=sum(r.calls_per_minute for r in run.settings.service.resources),
    )
    run.progress(s.plan.describe())
    check_budget(s.plan, run.max_text_records)


def run_stream(
    run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]], errors: DataFrame | None, *, total: int, sent: int
) -> LedgerService:
    """Run the streaming stage with the ledger service up; error rows go through the same writer.

    Returns the closed service once every result is written; `join()` it for the last job states.
    """
    s = run.summary
    svc = run.settings.service
    target = RunTarget(
        s.run_id, run.project, run.deployment, run.kind, svc.runtime_api_version, run.model.label, run.model.model_id
    )
    on_driver = run.engine == "driver"
    # Under the driver engine the driver process is the one streaming "task".
    tasks = 0 if not sent else 1 if on_driver else _executor_tasks(run)
    spark: Any = run.spark
    if (
        not on_driver
        and tasks
        and str(spark.sparkContext.getConf().get("spark.speculation", "false")).lower() == "true"
    ):
        log.warning(
            "spark.speculation is on: a speculative copy of a streaming task submits its batches again "
            "(paid twice); turn it off for classification runs"
        )
    if on_driver:
        service = LedgerService(run.spark, run.tables, target, host="127.0.0.1")  # type: ignore[arg-type]
    else:
        address = _ledger_address(run)
        service = LedgerService(run.spark, run.tables, target, host=address.advertised, bind=address.bind)  # type: ignore[arg-type]
    service.expected_docs = sent
    # The driver engine calls the service in-process: no socket. No job id is committed before the `runs` row.
    service.start(serve=not on_driver, before_jobs=run.opened.result if run.opened else None)
    outputs: list[Any] = []
    launched = time.time()
    failure: BaseException | None = None
    stop = threading.Event()
    reporter = threading.Thread(
        target=_report,
        args=(run, service, total, stop),
        kwargs={"started": time.time()},
        name="ctc-progress",
        daemon=True,
    )
    reporter.start()
    try:
        if errors is not None:
            service.write_results(errors)
        if tasks and on_driver:
            b = run.settings.batch
            plan = driver_plan(
                svc,
                b,
                run.settings.engine,
                project=run.project,
                deployment=run.deployment,
                kind=run.kind,
                ledger=service,
                client_factory=run.client_factory,
            )
            outputs = drive_batches(stage_actions(run, valid, resumed), plan)
        elif tasks:
            plan = _plan(run, tasks, service)
            frame = stage_actions(run, valid, resumed, parts=_packing_parts(run, resumed))
            if resumed:  # resumed polls and new batches, spread over the tasks
                frame = frame.repartition(tasks)
            outputs = frame.mapInArrow(partial(stream_partition, plan), OUTPUT_SCHEMA).collect()
    except BaseException as exc:
        failure = exc
    finally:
        stop.set()
        try:
            service.close()  # a ledger failure is the root cause of a failed stage: raise it first
        finally:
            reporter.join()
            if failure is not None or service.failure is not None:
                with contextlib.suppress(BaseException):
                    service.join()  # the job states that did arrive are committed before the error surfaces
    if failure is not None:
        raise failure
    if service.abort:
        raise CTCError(f"the service refused the run: {service.abort}")
    s.tasks, s.commits = tasks, service.commits
    first = tally_outputs(
        s, outputs, launched=launched, started=run.started_epoch, results_at=service.results_committed_at
    )
    if first is not None:
        log.info("first analyze call %.1fs after the streaming stage was launched", first - launched)
    _report(run, service, total, None, started=first if first is not None else time.time())
    return service


def tally_outputs(
    summary: RunSummary, outputs: Sequence[Any], *, launched: float, started: float, results_at: float | None
) -> float | None:
    """Add the tasks' counter rows to `summary` and time its phases; returns the first call's epoch, if any.

    `launched` is when the streaming stage started, `started` when the run did, `results_at` when the last
    results were committed (all epoch seconds).
    """
    for o in outputs:  # Rows from the executors, dicts from the driver engine
        summary.submits += int(o["submits"])
        summary.polls += int(o["polls"])
        summary.retries += int(o["retries"])
        summary.throttled += int(o["throttled"])
        summary.resubmitted_batches += int(o["resubmits"])
    firsts = [o["first_call_at"] for o in outputs if o["first_call_at"]]
    if not firsts:
        return None
    first = float(min(firsts))
    if results_at:
        summary.service_seconds = max(0.0, results_at - first)
        summary.planning_seconds = max(0.0, first - started)
        summary.step_seconds["first_call"] = round(max(0.0, first - launched), 3)
        summary.step_seconds["streaming"] = round(summary.service_seconds, 3)
    return first


def _executor_tasks(run: RunContext) -> int:
    """The executor engine's streaming tasks for this session and quota (`stream_tasks`)."""
    parallelism = int(run.spark.sparkContext.defaultParallelism)  # type: ignore[attr-defined]
    quota = sum(r.calls_per_minute for r in run.settings.service.resources) / 60.0
    return stream_tasks(parallelism, quota, run.settings.engine.tasks)


def _packing_parts(run: RunContext, resumed: list[dict[str, Any]]) -> int | None:
    """Partitions to pack new batches into; None for the default of `stage_actions` (`actions.py`).

    A new run of the executor engine packs straight into the streaming tasks' partitions, in the streaming
    stage itself: the first batches go out while the rest is still being packed. A dry run packs the same way,
    so its counts are the real run's.
    """
    return None if run.engine == "driver" or resumed else _executor_tasks(run)


def _plan(run: RunContext, tasks: int, service: LedgerService) -> TaskSettings:
    svc = run.settings.service
    return task_settings(
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
        client_factory=run.client_factory,
    )


def _ledger_address(run: RunContext) -> LedgerAddress:
    """Where executors reach the driver: loopback for local masters, else the driver's host (or the setting)."""
    sc = run.spark.sparkContext  # type: ignore[attr-defined]
    conf = {k: v for k, v in sc.getConf().getAll() if k in ("spark.driver.host", "spark.driver.bindAddress")}
    return ledger_address(str(sc.master), conf, run.settings.engine.ledger_host)


def _report(
    run: RunContext, service: LedgerService, total: int, stop: threading.Event | None, *, started: float
) -> None:
    """Print documents done out of the total and the rate every few seconds until `stop`; once if it is None."""
    while stop is None or not stop.wait(_PROGRESS_SECONDS):
        rate = service.received_docs / max(1e-6, time.time() - started) * 60
        run.progress(
            f"classified {service.received_docs}/{total} documents ({rate:,.0f} docs/min); "
            f"{service.committed_jobs} jobs committed, {service.merged_docs} results written"
        )
        if stop is None:
            return
