"""The Spark flow: a corpus in, `results`/`jobs`/`runs` Delta tables out, surviving a crash at any point.

Open the run (the deployment's model, the input's ids, the tables and the lease at once), plan on the driver
(skips, pre-validation, open jobs from an earlier run: `planning/`), run one streaming stage (`stage.py`),
then reconcile: every input document has exactly one terminal row (`record.py`). A crash loses at most the
jobs submitted since their task's last commit (bounded by `engine.max_uncommitted_jobs`); the next run polls
the committed jobs instead of resubmitting them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ctc_spark.config import Settings
from ctc_spark.engine.context import Kind, RunContext, RunSummary, timed
from ctc_spark.engine.engines import select_engine
from ctc_spark.engine.lease import RunLease
from ctc_spark.engine.ledger import tables as ledger
from ctc_spark.engine.ledger.routing import MAX_KNOWN_ROWS
from ctc_spark.engine.planning.estimate import check_records
from ctc_spark.engine.planning.frozen import frozen_plan
from ctc_spark.engine.planning.inputs import check_unique_ids, normalise_input, plan_counts, with_prevalidation
from ctc_spark.engine.planning.model import check_skip_by, read_deployment_model
from ctc_spark.engine.planning.queries import deployment_results, open_candidates, open_jobs, to_classify
from ctc_spark.engine.planning.retry import check_retry_errors
from ctc_spark.engine.record import reconcile, record_run
from ctc_spark.engine.run_id import check_run_id, new_run_id, reused_run_error
from ctc_spark.engine.stage import preview_plan, run_stream
from ctc_spark.errors import InputError, LeaseLostError
from ctc_spark.io.connect import is_connect, is_local_master
from ctc_spark.io.evolution import add_missing_columns
from ctc_spark.io.tables import TableLocation, read_table, sql_string

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ctc_spark.engine.ledger.service import LedgerService

__all__ = ["RunSummary", "classify", "run_classification"]

log = logging.getLogger(__name__)


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
    wait: bool = False,
    skip_by: str = "text+model",
    dry_run: bool = False,
    max_text_records: int | None = None,
    retry_errors: str | None = None,
) -> RunSummary:
    """Classify every document in `df` into the tables at `tables`; returns the reconciled run summary.

    One run at a time holds the lease of the tables, project and deployment (see `lease.py`); with `wait`
    a second run waits for it instead of refusing.

    Args:
        df: the documents: any DataFrame with an id column and a text column.
        project: the CTC project name.
        deployment: the deployment to classify with.
        kind: "single" or "multi" label.
        tables: a folder for the Delta tables, or `catalog.schema`.
        settings: from `load_settings`.
        run_id: name this run (default: a timestamp and a random suffix): 1 to 100 letters, digits, `.`, `_`
            or `-`, never used before in these tables.
        force: classify again documents already classified with the same text.
        id_col: the id column.
        text_col: the text column.
        source: how the input is named in errors.
        progress: receives the progress lines (default: the log).
        wait: wait for another run's lease on the same tables, project and deployment instead of refusing.
        skip_by: the skip key: "text+model" (the deployment's current model) or "text" (`planning/model.py`).
        dry_run: plan without an analyze call and write nothing; the summary's `plan` says what the run
            would send and bill.
        max_text_records: refuse a run whose plan bills more text records than this.
        retry_errors: which error rows of earlier runs are sent again: "none", "transient" (the service's
            failures, not the document's) or "all" (`engine/planning/retry.py`); default: `[engine] retry_errors`.

    Returns:
        The `RunSummary`: counts, calls, text records and timings.

    Raises:
        RunInProgressError: another run holds the lease and `wait` is false.
        LeaseLostError: another run took the lease over (this run was stopped past `engine.lease_renew_seconds`).
        ConfigError: `tables` or `run_id` is not valid, or `run_id` names an earlier run in these tables.
        InputError: a column is missing, or ids are null or duplicated.
        ReconciliationError: some input document has no terminal row at the end.
        BudgetExceededError: the plan bills more than `max_text_records`; nothing was sent.
        CTCError: the service refused the credentials or the project/deployment.
    """
    location = tables if isinstance(tables, TableLocation) else TableLocation.parse(tables)
    spark = df.sparkSession
    run = RunContext(
        spark,
        settings,
        location,
        project,
        deployment,
        kind,
        RunSummary(check_run_id(run_id) if run_id is not None else new_run_id()),
        progress or (lambda msg: log.info("%s", msg)),
        select_engine(
            settings.engine.engine,
            spark,
            calls_per_second=settings.service.total_calls_per_minute / 60.0,
        ),
        skip_by=check_skip_by(skip_by),
        retry_errors=check_retry_errors(retry_errors or settings.engine.retry_errors),
        dry_run=dry_run,
        max_text_records=max_text_records,
        named=run_id is not None,
    )
    run.summary.skip_by, run.summary.dry_run = run.skip_by, dry_run
    run.summary.retry_errors = run.retry_errors
    from pyspark import StorageLevel

    docs = normalise_input(df, id_col=id_col, text_col=text_col, source=source)
    # Serverless has no caching API: under Spark Connect the input is read again instead of persisted.
    docs = docs if is_connect(spark) else docs.persist(StorageLevel.MEMORY_AND_DISK)
    engine = settings.engine
    lease = (
        None
        if dry_run
        else RunLease(
            spark,
            location,
            project,
            deployment,
            run.summary.run_id,
            renew_seconds=engine.lease_renew_seconds,
            stale_seconds=engine.lease_stale_seconds,
        )
    )
    run.lease = lease
    run.fence = lease.check if lease is not None else None
    pool = ThreadPoolExecutor(4, thread_name_prefix="ctc-open")
    try:
        _open(run, pool, docs, lease, source=source, wait=wait)
        if lease is None:  # a dry run reads only: no lease, no runs row
            _execute(run, docs, force=force)
            run.summary.duration_seconds = time.monotonic() - run.started
            return run.summary
        try:
            return _run_leased(run, pool, docs, force=force)
        finally:
            lease.release()
    finally:
        pool.shutdown(wait=False)
        if not is_connect(spark):
            docs.unpersist()


def _run_leased(run: RunContext, pool: ThreadPoolExecutor, docs: DataFrame, *, force: bool) -> RunSummary:
    """The run under its lease: a `runs` row opened, the classification, the row closed as it ended."""
    # The "running" row is bookkeeping: let it commit while planning runs instead of before it.
    opened = run.opened = pool.submit(record_run, run, "running")
    try:
        service = _execute(run, docs, force=force)
        assert service is not None
        opened.result()
        run.summary.duration_seconds = time.monotonic() - run.started
        recorded = pool.submit(record_run, run, "succeeded")  # while the ledger commits the last job states
        service.join()
        # Every write to `results` and `jobs` is done: the lease can go while the `runs` row commits (the row is
        # this run's own, keyed by its run id, and needs no lease).
        if run.lease is not None:
            run.lease.release()
        recorded.result()
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            opened.result()
        run.summary.duration_seconds = time.monotonic() - run.started
        lost = _lost_lease(run, exc)
        record_run(run, "failed", error=f"{type(lost or exc).__name__}: {lost or exc}"[:2000])
        if lost is not None and lost is not exc:
            raise lost from exc
        raise
    return run.summary


def _lost_lease(run: RunContext, exc: BaseException) -> LeaseLostError | None:
    """The `LeaseLostError` behind a failure: the error itself, or the lease's when it was lost meanwhile (a run
    whose lease is taken over fails because of that, whatever step noticed first)."""
    if isinstance(exc, LeaseLostError):
        return exc
    if run.lease is None or run.lease.released:  # a lease given back is not lost
        return None
    try:
        run.lease.check()
    except LeaseLostError as lost:
        return lost
    return None


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
    result_col: str = "ctc",
    skip_by: str = "text+model",
    max_text_records: int | None = None,
    retry_errors: str | None = None,
) -> DataFrame:
    """Run the classification and return the input with its result row in one struct column.

    Args:
        df: the documents: any DataFrame with an id column and a text column.
        project: the CTC project name.
        deployment: the deployment to classify with.
        kind: "single" or "multi" label.
        settings: from `load_settings`.
        tables: a folder for the Delta tables, or `catalog.schema`.
        id_col: the id column.
        text_col: the text column.
        force: classify again documents already classified with the same text.
        run_id: name this run (default: a timestamp and a random suffix).
        result_col: the struct column that holds each document's `results` row (null when it has none).
        skip_by: the skip key, as for `run_classification`.
        max_text_records: refuse a run whose plan bills more text records than this.
        retry_errors: which error rows of earlier runs are sent again, as for `run_classification`.

    Returns:
        `df` with one more column, `result_col`: `doc_id`, `category`/`classes`, `confidence`, `error_code`, ...

    Raises:
        InputError: `df` already has a column named `result_col` (or a column is missing, or ids are null or
            duplicated).
        ReconciliationError: some input document has no terminal row at the end.
        BudgetExceededError: the plan bills more than `max_text_records`; nothing was sent.
        CTCError: the service refused the credentials or the project/deployment.
    """
    if result_col.lower() in {c.lower() for c in df.columns}:
        raise InputError(
            f"the input already has a column named {result_col!r}; pass result_col= another name for the result",
            column=result_col,
        )
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
        skip_by=skip_by,
        max_text_records=max_text_records,
        retry_errors=retry_errors,
    )
    from pyspark.sql import functions as F

    results = deployment_results(df.sparkSession, location, project, deployment)
    packed = results.select(F.col("doc_id").alias("__ctc_doc_id"), F.struct(*results.columns).alias(result_col))
    keyed = df.withColumn("__ctc_key", F.col(id_col).cast("string"))
    joined = keyed.join(packed, keyed["__ctc_key"] == packed["__ctc_doc_id"], "left")
    return joined.drop("__ctc_key", "__ctc_doc_id")


def _open(
    run: RunContext, pool: ThreadPoolExecutor, docs: DataFrame, lease: RunLease | None, *, source: str, wait: bool
) -> None:
    """Four independent steps at once: the deployment's model, the input's ids, the tables and the lease.

    None of them depends on another (the lease table is the lease's own), so a run pays the slowest of them
    instead of their sum. A dry run (`lease` None) creates nothing: only the model and the ids. When one step
    fails, the others are waited for, a lease taken is given back, and the first failure is raised, in the
    order model, ids, tables, lease.

    Raises:
        CTCError: the model read was refused. InputError: null or duplicate ids. RunInProgressError: the lease.
    """
    svc = run.settings.service
    steps = {
        "model": pool.submit(
            timed, run, "model", read_deployment_model, svc, run.project, run.deployment, skip_by=run.skip_by
        ),
        "ids": pool.submit(timed, run, "ids", check_unique_ids, docs, source=source),
    }
    if lease is not None:
        steps["tables"] = pool.submit(timed, run, "tables", _ensure_tables, run)
        steps["lease"] = pool.submit(timed, run, "lease", lease.acquire, wait=wait, progress=run.progress)
    futures.wait(steps.values())
    failures = [e for e in (f.exception() for f in steps.values()) if e is not None]
    if failures:
        if lease is not None and steps["lease"].exception() is None:
            lease.release()
        raise failures[0]
    run.model = steps["model"].result()
    s = run.summary
    s.model_label, s.model_id = run.model.label, run.model.model_id
    ids = steps["ids"].result()
    s.input_docs, run.id_range = ids.count, (ids.first, ids.last)
    if lease is not None:
        # Only a lease holder writes `results` and `jobs`: when this run created both and holds the first lease
        # ever taken on the location, no run has written either, and planning need not read them.
        run.fresh = lease.first_ever and {ledger.RESULTS, ledger.JOBS} <= steps["tables"].result()
        log.info("tables ready and lease taken at %s in %.1fs", run.tables, time.monotonic() - run.started)


def _ensure_tables(run: RunContext) -> set[str]:
    """Create the engine's tables, and add the columns this version writes to tables an older one created.

    Returns the tables that did not exist.
    """
    created = ledger.ensure_engine_tables(run.spark, run.tables)
    for name, schema in ((ledger.RESULTS, ledger.RESULTS_SCHEMA), (ledger.RUNS, ledger.RUNS_SCHEMA)):
        if name not in created:
            add_missing_columns(run.spark, run.tables, name, schema)
    if ledger.RUNS not in created and run.named:  # a generated id (a timestamp and 32 random bits) is new
        _refuse_reused_run_id(run)
    return created


def _refuse_reused_run_id(run: RunContext) -> None:
    """Refuse a run id that names an earlier run in these tables: its `runs` row would be overwritten.

    Raises:
        ConfigError: names the run id and the earlier run's project, deployment and status.
    """
    run_id = run.summary.run_id
    runs = read_table(run.spark, run.tables, ledger.RUNS)
    earlier = runs.where(f"run_id = {sql_string(run_id)}").select("project_name", "deployment_name", "status").first()
    if earlier is not None:
        raise reused_run_error(run_id, earlier.project_name, earlier.deployment_name, earlier.status)


def _known_rows(pending: DataFrame, known: int) -> frozenset[str] | None:
    """The ids of the plan's documents that already have a `results` row (`has_row`), for the ledger to MERGE
    rather than append; None (MERGE every write) when there are over `MAX_KNOWN_ROWS` of them."""
    if not known:
        return frozenset()
    if known > MAX_KNOWN_ROWS:
        log.info("%d planned documents replace a row of results: every results write is a MERGE", known)
        return None
    return frozenset(r.doc_id for r in pending.filter("has_row").select("doc_id").collect())


def _execute(run: RunContext, docs: DataFrame, *, force: bool) -> LedgerService | None:
    """Plan, stream and reconcile `docs` (normalised, ids checked); returns the ledger service, whose last job
    states may still be committing. A dry run returns None once the plan is counted.
    """
    from pyspark.sql import functions as F

    t0 = time.monotonic()
    s = run.summary
    service: LedgerService | None = None
    cleanup = contextlib.ExitStack()
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="ctc-plan") as pool:
            # Whether an earlier run left open jobs: a read of `jobs` that runs beside the skip check.
            any_open = None if run.fresh else pool.submit(lambda: bool(open_candidates(run).limit(1).count()))
            base = to_classify(run, docs, force=force)
            planned = with_prevalidation(base, run.settings.batch.max_chars_per_document)
            # The plan is frozen in a Delta table: our own MERGEs into `results` would otherwise re-run the skip
            # join, an input that is not deterministic (a `limit`, a sample) would give the stream other documents
            # than the plan counted, and unlike a local checkpoint it survives the loss of an executor. A local
            # master loses no executor without its driver: there the plan is a local checkpoint. A dry run writes
            # nothing: its plan stays a plain (lazy) DataFrame.
            if run.dry_run:
                row = planned.agg(*plan_counts()).first()
                pending, counted = planned, (row.asDict() if row else {})
            else:
                plan = cleanup.enter_context(
                    frozen_plan(
                        planned,
                        run.tables,
                        project=run.project,
                        deployment=run.deployment,
                        run_id=s.run_id,
                        counts=plan_counts(),
                        in_memory=is_local_master(run.spark),
                    )
                )
                pending, counted = plan.frame, plan.counts or {}  # counted by the plan's own write
            resuming = any_open is not None and any_open.result()
        todo, invalid, known = (int(counted.get(k) or 0) for k in ("n", "bad", "known"))
        s.skipped_docs = s.input_docs - todo
        run.pack_docs, run.invalid_docs = todo - invalid, invalid
        run.planned_records = int(counted.get("records") or 0)
        valid = pending.filter(F.col("error_code").isNull()).select("doc_id", "text", "text_sha256")
        resumed = [r.asDict() for r in open_jobs(run, valid).collect()] if resuming and todo > invalid else []
        s.resumed_jobs = len(resumed)
        log.info("planned run %s in %.1fs", s.run_id, time.monotonic() - t0)
        run.progress(
            f"run {s.run_id}: {s.input_docs} documents, {s.skipped_docs} already done, {invalid} invalid, "
            f"{len(resumed)} open jobs to resume"
        )
        if run.max_text_records is not None and not run.dry_run and not resumed:
            # Every valid document goes out in a new request: what they bill was counted by the plan's own write,
            # so the cap needs no packing pass (the stream packs them once).
            records = run.planned_records
            run.progress(f"plan bills {records} text records (--max-text-records {run.max_text_records})")
            check_records(records, todo - invalid, run.max_text_records)
        elif run.dry_run or run.max_text_records is not None:
            preview_plan(run, valid, resumed, todo=todo, invalid=invalid)  # packs: requests, open jobs' docs
        s.step_seconds["planning"] = round(time.monotonic() - t0, 3)
        if run.dry_run:
            return None
        run.known_rows = _known_rows(pending, known)
        errors = pending.filter(F.col("error_code").isNotNull()).select(
            "doc_id", "text_sha256", "error_code", "error_message", "has_row"
        )
        if run.lease is not None:
            run.lease.check()  # a run stopped past its renewal deadline while planning sends nothing
        service = run_stream(run, valid, resumed, errors if invalid else None, total=todo, sent=todo - invalid)
        t1 = time.monotonic()
        timed(run, "reconciliation", reconcile, run, docs)  # while the ledger commits the last job states
        log.info("reconciled run %s in %.1fs", s.run_id, time.monotonic() - t1)
        return service
    except BaseException:
        if service is not None:
            with contextlib.suppress(BaseException):
                service.join()
        raise
    finally:
        cleanup.close()
