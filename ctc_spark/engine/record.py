"""The run's record: its row in `runs`, and the reconciliation that counts its terminal rows in `results`."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ctc_spark.engine.context import RunContext, timed
from ctc_spark.engine.ledger import tables as ledger
from ctc_spark.engine.planning.preview import billed_records
from ctc_spark.engine.planning.queries import deployment_results
from ctc_spark.errors import ReconciliationError
from ctc_spark.io.frames import local_frame
from ctc_spark.io.tables import append_rows, replace_rows, sql_string

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["reconcile", "record_run"]


def reconcile(run: RunContext, docs: DataFrame) -> None:
    """Count this run's terminal rows and check that with the skipped documents they cover the input exactly.

    Reads only this run's rows of `results` (its `run_id`: the files of its own commits), not the deployment's
    history, and only their error codes: one small aggregate. Every row a run writes is for a document of its
    plan, one row a document, so the counts are the check. The billed text records of the succeeded documents
    are the plan's own count when every valid document succeeded (the usual case); only when some of them ended
    with an error row are the succeeded rows joined with the input for their texts' lengths.

    Raises:
        ReconciliationError: some documents have no terminal row, or have several.
    """
    from pyspark.sql import functions as F

    s = run.summary
    own = _own_rows(run)
    mine = own.groupBy("error_code").agg(F.count(F.lit(1)).alias("n")).collect()
    s.succeeded_docs = sum(int(r.n) for r in mine if r.error_code is None)
    s.errored_docs = sum(int(r.n) for r in mine if r.error_code is not None)
    s.errors_by_code = {str(r.error_code): int(r.n) for r in mine if r.error_code is not None}
    covered = s.skipped_docs + s.succeeded_docs + s.errored_docs
    if covered != s.input_docs:
        raise ReconciliationError(
            f"run {s.run_id} does not reconcile: {s.input_docs} input documents, {covered} with a terminal row; "
            f"skipped {s.skipped_docs} + succeeded {s.succeeded_docs} + errored {s.errored_docs}; "
            "re-run with the same arguments to resume",
            expected=s.input_docs,
            found=covered,
        )
    if s.errored_docs == run.invalid_docs:  # the error rows are the invalid documents': every valid one succeeded
        s.text_records = run.planned_records
        return
    succeeded = own.filter(F.col("error_code").isNull()).select("doc_id", "text_sha256")
    billed = docs.select("doc_id", "text_sha256", billed_records("text").alias("records")).join(
        succeeded, ["doc_id", "text_sha256"]
    )
    row = billed.agg(F.sum("records")).first()
    s.text_records = int(row[0] or 0) if row is not None else 0


def _own_rows(run: RunContext) -> DataFrame:
    """This run's rows of `results`."""
    from pyspark.sql import functions as F

    results = deployment_results(run.spark, run.tables, run.project, run.deployment)
    return results.filter(F.col("run_id") == F.lit(run.summary.run_id))


def record_run(run: RunContext, status: str, *, error: str | None = None) -> None:
    """Write the run's row into `runs`: its status, configuration, counts, model and step timings.

    The "running" row is appended; a later status replaces the run's row (inserting it when there is none).
    """
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
        "skip_by": run.skip_by,
        "retry_errors": run.retry_errors,
        "max_text_records": run.max_text_records,
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
        run.model.label,
        run.model.model_id,
        run.model.deployed_at,
        run.skip_by,
        dict(s.step_seconds),
    )
    frame = local_frame(run.spark, [row], ledger.RUNS_SCHEMA)
    if status == "running":  # a new run id (generated, or refused if `runs` has it): a blind append, no read
        timed(run, "recording", append_rows, run.spark, run.tables, ledger.RUNS, frame)
    else:
        where = f"run_id = {sql_string(s.run_id)}"
        timed(run, "recording", replace_rows, run.spark, run.tables, ledger.RUNS, frame, where)
