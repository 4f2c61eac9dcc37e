"""The Spark flow: a corpus in, `results`/`jobs`/`runs` Delta tables out, surviving a crash at any point.

Plan on the driver (ids, skips, pre-validation, open jobs from an earlier run), pack on executors, then one
streaming stage: each task submits and polls continuously (`executor.py`) while the driver's ledger service
(`ledger/server.py`) commits every submitted job id to `jobs` before the job is polled, and MERGEs results
into `results` as they arrive. A crash loses at most the jobs submitted since their task's last commit
(bounded by `engine.max_uncommitted_jobs`); the next run polls the committed jobs instead of resubmitting them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from ctc_spark.config import Settings
from ctc_spark.engine.executor import OUTPUT_SCHEMA, ExecutorPlan, stream_partition, window_size
from ctc_spark.engine.ledger import states as ledger
from ctc_spark.engine.ledger.server import LedgerService, RunTarget
from ctc_spark.engine.planning import BATCH_SCHEMA, check_unique_ids, normalise_input, pack_frame, with_prevalidation
from ctc_spark.engine.throttle import task_share
from ctc_spark.errors import ConfigError, CTCError, ReconciliationError
from ctc_spark.io.tables import TableLocation, merge_rows, read_table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["RunSummary", "classify", "run_classification", "stream_tasks"]

log = logging.getLogger(__name__)

Kind = Literal["single", "multi"]
_PROGRESS_SECONDS = 5.0
_CALLS_PER_TASK = 50.0  # calls per second one streaming task drives comfortably


@dataclass
class RunSummary:
    """What one run did; `input_docs == skipped_docs + succeeded_docs + errored_docs` when it reconciles."""

    run_id: str
    input_docs: int = 0
    skipped_docs: int = 0
    succeeded_docs: int = 0
    errored_docs: int = 0
    submits: int = 0
    polls: int = 0
    throttled: int = 0
    retries: int = 0
    resubmitted_batches: int = 0
    resumed_jobs: int = 0
    text_records: int = 0
    commits: int = 0  # ledger commits of submitted job ids
    tasks: int = 0  # streaming tasks
    duration_seconds: float = 0.0
    planning_seconds: float = 0.0  # run start to the first analyze call
    service_seconds: float = 0.0  # first analyze call to last results commit: the quota-bound phase
    errors_by_code: dict[str, int] = field(default_factory=dict)


@dataclass
class _Run:
    spark: object
    settings: Settings
    tables: TableLocation
    project: str
    deployment: str
    kind: Kind
    summary: RunSummary
    progress: Callable[[str], None]
    client_factory: Callable[..., Any] | None = None
    started: float = field(default_factory=time.monotonic)
    started_epoch: float = field(default_factory=time.time)


def run_classification(
    df: DataFrame,
    *,
    project: str,
    deployment: str,
    kind: Kind,
    tables: str | TableLocation,
    settings: Settings,
    run_id: str | None = None,
    force: bool = False,
    id_col: str = "id",
    text_col: str = "text",
    source: str = "input",
    progress: Callable[[str], None] | None = None,
    client_factory: Callable[..., Any] | None = None,
) -> RunSummary:
    """Classify every document in `df` into the tables at `tables`; returns the reconciled run summary.

    Raises:
        InputError: a column is missing, or ids are null or duplicated.
        ReconciliationError: some input document has no terminal row at the end.
        CTCError: the service refused the credentials or the project/deployment.

    `client_factory` replaces the real service client on executors (see `ExecutorPlan`); tests only.
    """
    location = tables if isinstance(tables, TableLocation) else TableLocation.parse(tables)
    spark = df.sparkSession
    run = _Run(
        spark,
        settings,
        location,
        project,
        deployment,
        kind,
        RunSummary(run_id or _new_run_id()),
        progress or (lambda msg: log.info("%s", msg)),
        client_factory,
    )
    ledger.ensure_engine_tables(spark, location)
    log.info("tables ready at %s in %.1fs", location, time.monotonic() - run.started)
    # The "running" row is bookkeeping: let it commit while planning runs instead of before it.
    pool = ThreadPoolExecutor(1, thread_name_prefix="ctc-runs")
    opened = pool.submit(_record_run, run, "running")
    try:
        service = _execute(run, df, force=force, id_col=id_col, text_col=text_col, source=source)
        opened.result()
        run.summary.duration_seconds = time.monotonic() - run.started
        recorded = pool.submit(_record_run, run, "succeeded")  # while the ledger commits the last job states
        service.join()
        recorded.result()
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            opened.result()
        run.summary.duration_seconds = time.monotonic() - run.started
        _record_run(run, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    finally:
        pool.shutdown(wait=False)
    return run.summary


def classify(
    df: DataFrame,
    *,
    project: str,
    deployment: str,
    kind: Kind,
    settings: Settings,
    tables: str | TableLocation,
    id_col: str = "id",
    text_col: str = "text",
    force: bool = False,
    run_id: str | None = None,
) -> DataFrame:
    """Run the classification and return the input joined with its result row (category, confidence, errors)."""
    location = tables if isinstance(tables, TableLocation) else TableLocation.parse(tables)
    run_classification(
        df,
        project=project,
        deployment=deployment,
        kind=kind,
        tables=location,
        settings=settings,
        force=force,
        id_col=id_col,
        text_col=text_col,
        run_id=run_id,
    )
    from pyspark.sql import functions as F

    results = _deployment_results(df.sparkSession, location, project, deployment)
    keyed = df.withColumn("__doc_id", F.col(id_col).cast("string"))
    return keyed.join(results, keyed["__doc_id"] == results["doc_id"], "left").drop("__doc_id")


def _new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


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


def _execute(run: _Run, df: DataFrame, *, force: bool, id_col: str, text_col: str, source: str) -> LedgerService:
    """Plan, stream and reconcile; returns the ledger service, whose last job states may still be committing."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    t0 = time.monotonic()
    s = run.summary
    docs = normalise_input(df, id_col=id_col, text_col=text_col, source=source).persist(StorageLevel.MEMORY_AND_DISK)
    service: LedgerService | None = None
    try:
        s.input_docs = check_unique_ids(docs, source=source)
        t_ids = time.monotonic()
        with ThreadPoolExecutor(1, thread_name_prefix="ctc-plan") as pool:
            # Whether an earlier run left open jobs: a read of `jobs` that runs beside the skip join.
            any_open = pool.submit(lambda: bool(_open_candidates(run).limit(1).count()))
            # The checkpoint freezes the plan: our own MERGEs into `results` would otherwise re-run the skip join.
            base = docs if force else docs.join(_done(run), ["doc_id", "text_sha256"], "left_anti")
            pending = with_prevalidation(base, run.settings.batch.max_chars_per_document).localCheckpoint()
            counted = pending.agg(F.count(F.lit(1)).alias("n"), F.count("error_code").alias("bad")).first()
            resuming = any_open.result()
        todo, invalid = (int(counted.n), int(counted.bad)) if counted else (0, 0)
        s.skipped_docs = s.input_docs - todo
        valid = pending.filter(F.col("error_code").isNull()).select("doc_id", "text", "text_sha256")
        resumed = [r.asDict() for r in _open_jobs(run, valid).collect()] if resuming and todo > invalid else []
        s.resumed_jobs = len(resumed)
        log.info("planned run %s in %.1fs (ids %.1fs)", s.run_id, time.monotonic() - t0, t_ids - t0)
        run.progress(
            f"run {s.run_id}: {s.input_docs} documents, {s.skipped_docs} already done, {invalid} invalid, "
            f"{len(resumed)} open jobs to resume"
        )
        errors = pending.filter(F.col("error_code").isNotNull()).select(
            "doc_id", "text_sha256", "error_code", "error_message"
        )
        service = _stream(run, valid, resumed, errors if invalid else None, total=todo, sent=todo - invalid)
        t1 = time.monotonic()
        _finish(run, docs)  # while the ledger commits the last job states
        log.info("reconciled run %s in %.1fs", s.run_id, time.monotonic() - t1)
        return service
    except BaseException:
        if service is not None:
            with contextlib.suppress(BaseException):
                service.join()
        raise
    finally:
        docs.unpersist()


def _deployment_results(spark: Any, location: TableLocation, project: str, deployment: str) -> DataFrame:
    """The `results` rows of one project and deployment."""
    from pyspark.sql import functions as F

    results = read_table(spark, location, ledger.RESULTS)
    return results.filter((F.col("project_name") == project) & (F.col("deployment_name") == deployment))


def _done(run: _Run) -> DataFrame:
    return _deployment_results(run.spark, run.tables, run.project, run.deployment).select("doc_id", "text_sha256")


def _open_candidates(run: _Run) -> DataFrame:
    """Each batch's latest committed job, if it is still pollable and unexpired."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    jobs = read_table(run.spark, run.tables, ledger.JOBS).filter(  # type: ignore[arg-type]
        (F.col("project_name") == run.project)
        & (F.col("deployment_name") == run.deployment)
        & F.col("job_id").isNotNull()
    )
    latest = Window.partitionBy("batch_id").orderBy(
        F.col("attempts").desc_nulls_last(), F.col("submitted_at").desc_nulls_last()
    )
    return (
        jobs.withColumn("rank", F.row_number().over(latest))
        .filter((F.col("rank") == 1) & F.col("status").isin(*ledger.POLLABLE))
        .filter(F.col("expires_at") > F.current_timestamp())
    )


def _open_jobs(run: _Run, valid: DataFrame) -> DataFrame:
    """Open candidates whose documents (same texts) are all still pending: poll these, don't resubmit them.

    A crash leaves every committed job `submitted` (or `succeeded`), so the latest attempt is what to poll.
    """
    from pyspark.sql import functions as F

    open_ = _open_candidates(run)
    pairs = open_.select("batch_id", F.explode(F.arrays_zip("doc_ids", "text_sha256s")).alias("d")).select(
        "batch_id", F.col("d.doc_ids").alias("doc_id"), F.col("d.text_sha256s").alias("text_sha256")
    )
    matched = pairs.join(valid.select("doc_id", "text_sha256"), ["doc_id", "text_sha256"]).groupBy("batch_id").count()
    full = open_.join(matched, "batch_id").filter(F.col("count") == F.size("doc_ids"))
    return full.select(
        "batch_id", "resource", "doc_ids", "text_sha256s", "job_id", "operation_location", "submitted_at", "attempts"
    )


def _actions(run: _Run, valid: DataFrame, resumed: list[dict[str, Any]]) -> DataFrame:
    """One row per batch for the streaming stage: new batches to submit, and resumed jobs (with their texts)."""
    from pyspark.sql import functions as F

    spark: Any = run.spark
    submit_cols: list[Any] = [
        F.lit("submit").alias("action"),
        "batch_id",
        "resource",
        "doc_ids",
        "texts",
        "text_sha256s",
        F.lit(None).cast("string").alias("job_id"),
        F.lit(None).cast("string").alias("operation_location"),
        F.lit(None).cast("double").alias("submitted_at"),
        F.lit(0).cast("int").alias("attempts"),
    ]
    if not resumed:
        return _pack(run, valid).select(*submit_cols)
    meta = spark.createDataFrame(
        [
            (
                r["batch_id"],
                r["resource"],
                list(r["doc_ids"]),
                r["job_id"],
                r["operation_location"],
                r["submitted_at"].timestamp() if r["submitted_at"] else None,
                int(r["attempts"] or 1),
            )
            for r in resumed
        ],
        "batch_id STRING, resource STRING, doc_ids ARRAY<STRING>, job_id STRING, operation_location STRING, "
        "submitted_at DOUBLE, attempts INT",
    )
    exploded = meta.select("batch_id", F.posexplode("doc_ids").alias("pos", "doc_id"))
    grouped = (
        exploded.join(valid, "doc_id")
        .groupBy("batch_id")
        .agg(F.sort_array(F.collect_list(F.struct("pos", "doc_id", "text", "text_sha256"))).alias("d"))
    )
    polls = (
        meta.drop("doc_ids")
        .join(grouped, "batch_id")
        .select(
            F.lit("poll").alias("action"),
            "batch_id",
            "resource",
            F.col("d.doc_id").alias("doc_ids"),
            F.col("d.text").alias("texts"),
            F.col("d.text_sha256").alias("text_sha256s"),
            "job_id",
            "operation_location",
            "submitted_at",
            "attempts",
        )
    )
    covered = exploded.select("doc_id")
    fresh = _pack(run, valid.join(covered, "doc_id", "left_anti")).select(*submit_cols)
    return fresh.unionByName(polls)


def _pack(run: _Run, to_pack: DataFrame) -> DataFrame:
    sc = run.spark.sparkContext  # type: ignore[attr-defined]
    parts = max(1, sc.defaultParallelism)
    b = run.settings.batch
    body = partial(
        pack_frame,
        max_docs=b.max_docs_per_request,
        max_chars=b.max_chars_per_request,
        scope=f"{run.project}/{run.deployment}/{run.kind}",
        resources=run.settings.service.resources,
    )
    ordered = to_pack.repartition(parts, "doc_id").sortWithinPartitions("doc_id")
    return ordered.select("doc_id", "text", "text_sha256").mapInPandas(body, BATCH_SCHEMA)


def _stream(
    run: _Run, valid: DataFrame, resumed: list[dict[str, Any]], errors: DataFrame | None, *, total: int, sent: int
) -> LedgerService:
    """Run the streaming stage with the ledger service up; error rows go through the same writer.

    Returns the closed service once every result is written; `join()` it for the last job states.
    """
    s = run.summary
    svc = run.settings.service
    target = RunTarget(s.run_id, run.project, run.deployment, run.kind, svc.runtime_api_version)
    parallelism = int(run.spark.sparkContext.defaultParallelism)  # type: ignore[attr-defined]
    quota = sum(r.calls_per_minute for r in svc.resources) / 60.0
    tasks = stream_tasks(parallelism, quota, run.settings.engine.tasks) if sent else 0
    if tasks and str(run.spark.sparkContext.getConf().get("spark.speculation", "false")).lower() == "true":  # type: ignore[attr-defined]
        log.warning(
            "spark.speculation is on: a speculative copy of a streaming task submits its batches again "
            "(paid twice); turn it off for classification runs"
        )
    service = LedgerService(run.spark, run.tables, target, host=_ledger_host(run))  # type: ignore[arg-type]
    service.expected_docs = sent
    service.start()
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
        if tasks:
            plan = _plan(run, tasks, service)
            frame = _actions(run, valid, resumed).repartition(tasks)
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
    for o in outputs:
        s.submits += int(o.submits)
        s.polls += int(o.polls)
        s.retries += int(o.retries)
        s.throttled += int(o.throttled)
        s.resubmitted_batches += int(o.resubmits)
    firsts = [o.first_call_at for o in outputs if o.first_call_at]
    if firsts and service.results_committed_at:
        s.service_seconds = max(0.0, service.results_committed_at - min(firsts))
        s.planning_seconds = max(0.0, min(firsts) - run.started_epoch)
        log.info("first analyze call %.1fs after the streaming stage was launched", min(firsts) - launched)
    _report(run, service, total, None, started=min(firsts) if firsts else time.time())
    return service


def _plan(run: _Run, tasks: int, service: LedgerService) -> ExecutorPlan:
    svc = run.settings.service
    b = run.settings.batch
    shares = tuple(task_share(r.calls_per_minute, tasks) for r in svc.resources)
    expected = 2.0
    return ExecutorPlan(
        service=svc,
        project=run.project,
        deployment=run.deployment,
        kind=run.kind,
        shares=shares,
        ledger_url=service.url,
        ledger_token=service.token,
        language=b.language,
        show_stats=b.show_stats,
        logging_opt_out=b.logging_opt_out,
        expected_latency=expected,
        max_in_flight=window_size(sum(shares), expected),
        max_uncommitted=max(1, run.settings.engine.max_uncommitted_jobs // tasks),
        job_deadline_seconds=run.settings.engine.job_deadline_seconds,
        client_factory=run.client_factory,
    )


def _ledger_host(run: _Run) -> str:
    """Where executors reach the driver: loopback for local masters, else the driver's host (or the setting)."""
    configured = run.settings.engine.ledger_host
    if configured:
        return configured
    sc = run.spark.sparkContext  # type: ignore[attr-defined]
    if str(sc.master).startswith("local"):
        return "127.0.0.1"
    return str(sc.getConf().get("spark.driver.host", "127.0.0.1"))


def _report(run: _Run, service: LedgerService, total: int, stop: threading.Event | None, *, started: float) -> None:
    """Print documents done out of the total and the rate every few seconds until `stop`; once if it is None."""
    while stop is None or not stop.wait(_PROGRESS_SECONDS):
        rate = service.received_docs / max(1e-6, time.time() - started) * 60
        run.progress(
            f"classified {service.received_docs}/{total} documents ({rate:,.0f} docs/min); "
            f"{service.committed_jobs} jobs committed, {service.merged_docs} results written"
        )
        if stop is None:
            return


def _finish(run: _Run, docs: DataFrame) -> None:
    """Count this run's terminal rows and check that every input document has exactly one (one Spark job)."""
    from pyspark.sql import functions as F

    s = run.summary
    results = _deployment_results(run.spark, run.tables, run.project, run.deployment)
    joined = docs.select("doc_id", "text", "text_sha256").join(
        results.select("doc_id", "text_sha256", "run_id", "error_code"), ["doc_id", "text_sha256"], "left"
    )
    records = F.greatest(F.lit(1), F.ceil(F.length("text") / 1000))
    rows = (
        joined.groupBy(
            F.col("run_id").isNull().alias("missing"), (F.col("run_id") == s.run_id).alias("mine"), "error_code"
        )
        .agg(F.count(F.lit(1)).alias("n"), F.sum(records).alias("records"))
        .collect()
    )
    missing = sum(int(r.n) for r in rows if r.missing)
    mine = [r for r in rows if r.mine]
    s.succeeded_docs = sum(int(r.n) for r in mine if r.error_code is None)
    s.errored_docs = sum(int(r.n) for r in mine if r.error_code is not None)
    s.errors_by_code = {str(r.error_code): int(r.n) for r in mine if r.error_code is not None}
    s.text_records = sum(int(r.records or 0) for r in mine if r.error_code is None)
    covered = s.input_docs - missing
    if missing or s.skipped_docs + s.succeeded_docs + s.errored_docs != s.input_docs:
        raise ReconciliationError(
            f"run {s.run_id} does not reconcile: {s.input_docs} input documents, {covered} with a terminal row; "
            f"skipped {s.skipped_docs} + succeeded {s.succeeded_docs} + errored {s.errored_docs}; "
            "re-run with the same arguments to resume",
            expected=s.input_docs,
            found=covered,
        )


def _record_run(run: _Run, status: str, *, error: str | None = None) -> None:
    s = run.summary
    now = datetime.now(timezone.utc)
    config = {
        "project": run.project,
        "deployment": run.deployment,
        "kind": run.kind,
        "tables": str(run.tables),
        "batch": asdict(run.settings.batch),
        "engine": asdict(run.settings.engine),
        "resources": [
            {"name": r.name, "endpoint": r.endpoint, "calls_per_minute": r.calls_per_minute}
            for r in run.settings.service.resources
        ],
        "runtime_api_version": run.settings.service.runtime_api_version,
    }
    started = datetime.fromtimestamp(time.time() - (time.monotonic() - run.started), timezone.utc)
    row = (
        s.run_id,
        status,
        run.project,
        run.deployment,
        run.kind,
        json.dumps(config, sort_keys=True),
        started,
        None if status == "running" else now,
        s.duration_seconds,
        s.input_docs,
        s.skipped_docs,
        s.succeeded_docs,
        s.errored_docs,
        s.submits,
        s.polls,
        s.throttled,
        s.retries,
        s.resubmitted_batches,
        s.text_records,
        error,
    )
    frame = run.spark.createDataFrame([row], ledger.RUNS_SCHEMA)  # type: ignore[attr-defined]
    merge_rows(run.spark, run.tables, ledger.RUNS, frame, ["run_id"])  # type: ignore[arg-type]
