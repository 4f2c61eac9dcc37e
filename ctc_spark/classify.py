"""The Spark flow: a corpus in, `results`/`jobs`/`runs` Delta tables out, in waves that survive a crash.

Per wave: submit its batches from executors -> MERGE their job ids into `jobs` (committed) -> poll the
jobs from executors -> MERGE per-document rows into `results` and job states into `jobs`. A crash loses at
most the wave in flight; the next run polls the committed jobs instead of resubmitting them.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from ctc_spark import ledger
from ctc_spark.config import Settings
from ctc_spark.errors import ReconciliationError
from ctc_spark.executor import ExecutorPlan
from ctc_spark.planning import (
    BATCH_SCHEMA,
    check_unique_ids,
    normalise_input,
    pack_frame,
    prevalidation_errors,
)
from ctc_spark.tables import TableLocation, merge_rows, read_table
from ctc_spark.throttle import SAFETY, task_share

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["RunSummary", "classify", "run_classification", "wave_size"]

log = logging.getLogger(__name__)

Kind = Literal["single", "multi"]
_STAGE_SECONDS = 120.0


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
    waves: int = 0
    duration_seconds: float = 0.0
    service_seconds: float = 0.0  # first stage start to last results commit: the quota-bound phase
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
    run = _Run(spark, settings, location, project, deployment, kind, RunSummary(run_id or _new_run_id()),
               progress or (lambda msg: log.info("%s", msg)), client_factory)  # fmt: skip
    ledger.ensure_engine_tables(spark, location)
    # The "running" row is bookkeeping: let it commit while planning runs instead of before it.
    started = threading.Thread(target=_record_run, args=(run, "running"), name="ctc-run-start", daemon=True)
    started.start()
    try:
        _execute(run, df, force=force, id_col=id_col, text_col=text_col, source=source)
    except BaseException as exc:
        started.join()
        run.summary.duration_seconds = time.monotonic() - run.started
        _record_run(run, "failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    started.join()
    run.summary.duration_seconds = time.monotonic() - run.started
    _record_run(run, "succeeded")
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
    run_classification(df, project=project, deployment=deployment, kind=kind, tables=location, settings=settings,
                       force=force, id_col=id_col, text_col=text_col, run_id=run_id)  # fmt: skip
    from pyspark.sql import functions as F

    results = read_table(df.sparkSession, location, ledger.RESULTS).filter(
        (F.col("project_name") == project) & (F.col("deployment_name") == deployment)
    )
    keyed = df.withColumn("__doc_id", F.col(id_col).cast("string"))
    return keyed.join(results, keyed["__doc_id"] == results["doc_id"], "left").drop("__doc_id")


def _new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


def _execute(run: _Run, df: DataFrame, *, force: bool, id_col: str, text_col: str, source: str) -> None:
    from pyspark import StorageLevel

    batch = run.settings.batch
    t0 = time.monotonic()
    docs = normalise_input(df, id_col=id_col, text_col=text_col, source=source).persist(StorageLevel.MEMORY_AND_DISK)
    check_unique_ids(docs, source=source)
    s = run.summary
    s.input_docs = docs.count()
    # Checkpoints freeze the plan: our own MERGEs into `results` would otherwise re-run these joins mid-run.
    pending = (docs if force else docs.join(_done(run), ["doc_id", "text_sha256"], "left_anti")).localCheckpoint()
    s.skipped_docs = s.input_docs - pending.count()
    invalid = prevalidation_errors(pending, batch.max_chars_per_document).localCheckpoint()
    valid = pending.join(invalid.select("doc_id"), "doc_id", "left_anti")
    resumed = [r.asDict() for r in _open_jobs(run, valid).collect()]
    covered = run.spark.createDataFrame(  # type: ignore[attr-defined]
        [(d,) for r in resumed for d in r["doc_ids"]], "doc_id STRING"
    )
    batches = _pack(run, valid.join(covered, "doc_id", "left_anti")).localCheckpoint()
    new_ids = [r.batch_id for r in batches.select("batch_id").orderBy("batch_id").collect()]
    if invalid.limit(1).count():
        _merge_results(run, invalid.select("doc_id", "text_sha256", "error_code", "error_message"), job_id=None)
    s.resumed_jobs = len(resumed)
    total_to_do = s.input_docs - s.skipped_docs
    log.info("planned run %s in %.1fs", s.run_id, time.monotonic() - t0)
    run.progress(f"run {s.run_id}: {s.input_docs} documents, {s.skipped_docs} already done, "
                 f"{len(new_ids)} new batches, {len(resumed)} open jobs to resume")  # fmt: skip
    _waves(run, docs, batches, new_ids, resumed, total_to_do)
    t1 = time.monotonic()
    _finish(run, docs)
    log.info("reconciled run %s in %.1fs", s.run_id, time.monotonic() - t1)
    docs.unpersist()


def _done(run: _Run) -> DataFrame:
    from pyspark.sql import functions as F

    results = read_table(run.spark, run.tables, ledger.RESULTS)  # type: ignore[arg-type]
    return results.filter((F.col("project_name") == run.project) & (F.col("deployment_name") == run.deployment)).select(
        "doc_id", "text_sha256"
    )


def _open_jobs(run: _Run, valid: DataFrame) -> DataFrame:
    """Committed, unexpired jobs whose documents are all still pending: poll these, don't resubmit."""
    from pyspark.sql import functions as F

    jobs = read_table(run.spark, run.tables, ledger.JOBS).filter(  # type: ignore[arg-type]
        (F.col("project_name") == run.project)
        & (F.col("deployment_name") == run.deployment)
        & F.col("status").isin(*ledger.POLLABLE)
        & (F.col("expires_at") > F.current_timestamp())
    )
    exploded = jobs.select("batch_id", F.explode("doc_ids").alias("doc_id"))
    matched = exploded.join(valid.select("doc_id"), "doc_id").groupBy("batch_id").count()
    full = jobs.join(matched, "batch_id").filter(F.col("count") == F.size("doc_ids")).drop("count")
    return full.select(*[f.name for f in ledger.JOBS_SCHEMA.fields])


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


def _plan(run: _Run) -> ExecutorPlan:
    tasks = max(1, run.spark.sparkContext.defaultParallelism)  # type: ignore[attr-defined]
    svc = run.settings.service
    return ExecutorPlan(
        service=svc,
        project=run.project,
        deployment=run.deployment,
        kind=run.kind,
        shares=tuple(task_share(r.calls_per_minute, tasks) for r in svc.resources),
        language=run.settings.batch.language,
        show_stats=run.settings.batch.show_stats,
        logging_opt_out=run.settings.batch.logging_opt_out,
        job_deadline_seconds=run.settings.batch.job_deadline_seconds,
        client_factory=run.client_factory,
    )


def wave_size(calls_per_minute: int, max_jobs: int, *, stage_seconds: float = _STAGE_SECONDS) -> int:
    """Jobs per wave: about `stage_seconds` of quota (two calls a job), capped by the configured maximum.

    Longer stages hide the commit between stages; the cap bounds what a crash can make us redo.
    """
    return max(1, min(max_jobs, int(calls_per_minute * SAFETY / 60.0 * stage_seconds / 2)))


def _waves(run: _Run, docs: DataFrame, batches: DataFrame, new_ids: list[str], resumed: list[dict[str, object]],
           total: int) -> None:  # fmt: skip
    from ctc_spark.waves import WaveRunner

    quota = sum(r.calls_per_minute for r in run.settings.service.resources)
    size = wave_size(quota, run.settings.batch.wave_jobs)
    WaveRunner(run, docs, batches, _plan(run), total, size).run(new_ids, resumed)


def _merge_results(run: _Run, rows: DataFrame, *, job_id: str | None) -> None:
    """MERGE per-document rows (doc_id, text_sha256, category?, confidence?, classes?, error_*) into `results`."""
    from pyspark.sql import functions as F

    cols = set(rows.columns)
    full = rows.select(
        "doc_id",
        (F.col("category") if "category" in cols else F.lit(None)).cast("string").alias("category"),
        (F.col("confidence") if "confidence" in cols else F.lit(None)).cast("double").alias("confidence"),
        (F.col("classes") if "classes" in cols else F.lit(None))
        .cast(ledger.RESULTS_SCHEMA["classes"].dataType)
        .alias("classes"),
        F.col("error_code").cast("string"),
        F.col("error_message").cast("string"),
        F.lit(run.project).alias("project_name"),
        F.lit(run.deployment).alias("deployment_name"),
        F.lit(run.kind).alias("kind"),
        F.lit(run.settings.service.runtime_api_version).alias("api_version"),
        (F.col("job_id") if "job_id" in cols else F.lit(job_id)).cast("string").alias("job_id"),
        F.lit(run.summary.run_id).alias("run_id"),
        F.col("text_sha256"),
        F.current_timestamp().alias("classified_at"),
    )
    merge_rows(run.spark, run.tables, ledger.RESULTS, full, ["doc_id", "project_name", "deployment_name"])  # type: ignore[arg-type]


def _finish(run: _Run, docs: DataFrame) -> None:
    """Count this run's terminal rows and check that every input document has exactly one."""
    from pyspark.sql import functions as F

    s = run.summary
    results = read_table(run.spark, run.tables, ledger.RESULTS).filter(  # type: ignore[arg-type]
        (F.col("project_name") == run.project) & (F.col("deployment_name") == run.deployment)
    )
    mine = results.filter(F.col("run_id") == s.run_id)
    counts = {r.error_code: r["count"] for r in mine.groupBy("error_code").count().collect()}
    s.succeeded_docs = int(counts.pop(None, 0))
    s.errored_docs = int(sum(counts.values()))
    s.errors_by_code = {str(k): int(v) for k, v in counts.items()}
    billed = mine.filter(F.col("error_code").isNull()).join(docs.select("doc_id", "text"), "doc_id")
    billed_row = billed.select(F.sum(F.greatest(F.lit(1), F.ceil(F.length("text") / 1000)))).first()
    s.text_records = int((billed_row[0] if billed_row else 0) or 0)
    covered = docs.join(results, ["doc_id", "text_sha256"], "left_semi").count()
    if covered != s.input_docs or s.skipped_docs + s.succeeded_docs + s.errored_docs != s.input_docs:
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
        "resources": [{"name": r.name, "endpoint": r.endpoint, "calls_per_minute": r.calls_per_minute}
                      for r in run.settings.service.resources],
        "runtime_api_version": run.settings.service.runtime_api_version,
    }  # fmt: skip
    started = datetime.fromtimestamp(time.time() - (time.monotonic() - run.started), timezone.utc)
    row = (
        s.run_id, status, run.project, run.deployment, run.kind, json.dumps(config, sort_keys=True), started,
        None if status == "running" else now, s.duration_seconds, s.input_docs, s.skipped_docs, s.succeeded_docs,
        s.errored_docs, s.submits, s.polls, s.throttled, s.retries, s.resubmitted_batches, s.text_records, error,
    )  # fmt: skip
    frame = run.spark.createDataFrame([row], ledger.RUNS_SCHEMA)  # type: ignore[attr-defined]
    merge_rows(run.spark, run.tables, ledger.RUNS, frame, ["run_id"])  # type: ignore[arg-type]
