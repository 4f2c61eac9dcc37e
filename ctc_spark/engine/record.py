"""The run's record: its row in `runs`, and the reconciliation that counts its terminal rows in `results`."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ctc_spark.engine.context import RunContext, timed
from ctc_spark.engine.ledger import tables as ledger
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
    history; one Spark job.
    """
    from pyspark.sql import functions as F

    s = run.summary
    results = deployment_results(run.spark, run.tables, run.project, run.deployment).filter(
        F.col("run_id") == F.lit(s.run_id)
    )
    # The billed records come from the text's length before the join: the join carries an int, not the text.
    records = F.greatest(F.lit(1), F.ceil(F.length("text") / 1000)).alias("records")
    joined = docs.select("doc_id", "text_sha256", records).join(
        results.select("doc_id", "text_sha256", "error_code"), ["doc_id", "text_sha256"]
    )
    mine = joined.groupBy("error_code").agg(F.count(F.lit(1)).alias("n"), F.sum("records").alias("records")).collect()
    s.succeeded_docs = sum(int(r.n) for r in mine if r.error_code is None)
    s.errored_docs = sum(int(r.n) for r in mine if r.error_code is not None)
    s.errors_by_code = {str(r.error_code): int(r.n) for r in mine if r.error_code is not None}
    s.text_records = sum(int(r.records or 0) for r in mine if r.error_code is None)
    covered = s.skipped_docs + s.succeeded_docs + s.errored_docs
    if covered != s.input_docs:
        raise ReconciliationError(
            f"run {s.run_id} does not reconcile: {s.input_docs} input documents, {covered} with a terminal row; "
            f"skipped {s.skipped_docs} + succeeded {s.succeeded_docs} + errored {s.errored_docs}; "
            "re-run with the same arguments to resume",
            expected=s.input_docs,
            found=covered,
        )


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
