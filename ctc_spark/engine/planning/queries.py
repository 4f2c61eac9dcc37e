"""The plan's Spark queries: the documents a run skips, the open jobs it resumes, and the batches it packs.

Each is a lazy DataFrame over the `results`, `jobs` and `runs` tables and the run's input; `stage_actions` gives
the streaming stage one row per batch: a new batch to `submit`, packed on executors, or an earlier run's open
job to `poll`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from ctc_spark.engine.context import RunContext
from ctc_spark.engine.ledger import tables as ledger
from ctc_spark.engine.ledger.states import POLLABLE
from ctc_spark.engine.planning.inputs import BATCH_SCHEMA, connect_partitions, pack_frame, packed_batches
from ctc_spark.engine.planning.model import done_flag, runs_of_model
from ctc_spark.io.connect import is_connect
from ctc_spark.io.frames import local_frame
from ctc_spark.io.tables import TableLocation, read_table, table_exists

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.types import StructType

__all__ = [
    "JOB_LIFETIME",
    "deployment_results",
    "driver_submits",
    "open_candidates",
    "open_jobs",
    "stage_actions",
    "to_classify",
]

# How long the service keeps a job after its submission: older jobs cannot be polled.
JOB_LIFETIME = timedelta(hours=24)


def deployment_results(spark: Any, location: TableLocation, project: str, deployment: str) -> DataFrame:
    """The `results` rows of one project and deployment."""
    return read_table(spark, location, ledger.RESULTS).filter(_of_deployment(project, deployment))


def _of_deployment(project: str, deployment: str) -> Column:
    """True on the rows (of `results` or `jobs`) of one project and deployment: literals that prune files."""
    from pyspark.sql import functions as F

    return (F.col("project_name") == F.lit(project)) & (F.col("deployment_name") == F.lit(deployment))


def to_classify(run: RunContext, docs: DataFrame, *, force: bool = False) -> DataFrame:
    """`docs` less the documents this run skips (by text and model, or by text alone; the error rows it sends
    again are not skipped), plus `has_row`: whether `results` already holds a row of the deployment for the
    document (its new row replaces that one; the others are appended, `ledger/routing.py`). `force` skips none.

    `results` is read once, only the columns the check needs and only the files whose `doc_id` statistics overlap
    the input's id range (a night of new, increasing ids reads none of the history), and joined with the input's
    keys: an inner join, so Spark can broadcast the input's side and stream the deployment's rows unshuffled.
    """
    from pyspark.sql import functions as F

    if run.fresh:
        return docs.withColumn("has_row", F.lit(False))
    results = _table(run, ledger.RESULTS)
    mine = results.filter(_of_deployment(run.project, run.deployment))
    first, last = run.id_range
    if first is not None and last is not None:
        mine = mine.filter(F.col("doc_id").between(F.lit(first), F.lit(last)))
    done = done_flag(results.columns, run.model, run.skip_by, run.retry_errors)
    keys = docs.select("doc_id", F.col("text_sha256").alias("__ctc_sha"))
    known = (
        mine.join(keys, "doc_id")
        .groupBy("doc_id")  # one row per document, even if the table held two
        # a null (a row without a model, a null hash) is not done, and the document still has a row
        .agg(
            F.max(F.coalesce(done & (F.col("text_sha256") == F.col("__ctc_sha")), F.lit(False)).cast("int")).alias(
                "__ctc_done"
            )
        )
    )
    marked = docs.join(known, "doc_id", "left")
    if not force:
        marked = marked.filter(F.coalesce(F.col("__ctc_done"), F.lit(0)) == 0)
    return marked.withColumn("has_row", F.col("__ctc_done").isNotNull()).drop("__ctc_done")


def open_candidates(run: RunContext, *, now: datetime | None = None) -> DataFrame:
    """Each batch's latest submission that can still be polled: its job unexpired and `submitted`/`succeeded`.

    Only jobs that can still be polled are read: the service forgets a job 24 hours after its submission, so
    the filters on the deployment and the job's age come before the window, as literals that prune files.
    `jobs` is an event log (a row per state of a job): the latest row of a batch is its latest submission
    (`submitted_at`; `attempts` only breaks a tie: an old attempt-3 row of a batch sent again tonight must not
    outrank tonight's attempt 1), and of that submission its latest event (`updated_at`). The state is checked
    on that row only: an earlier `submitted` event of a job that since `failed` is not open, and neither is a
    latest event written by a run that succeeded.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    now = now or datetime.now(timezone.utc)
    jobs = _table(run, ledger.JOBS).filter(
        _of_deployment(run.project, run.deployment) & (F.col("submitted_at") > F.lit(now - JOB_LIFETIME))
    )
    latest = Window.partitionBy("batch_id").orderBy(
        F.col("submitted_at").desc_nulls_last(),
        F.col("attempts").desc_nulls_last(),
        F.col("updated_at").desc_nulls_last(),
    )
    last = jobs.withColumn("rank", F.row_number().over(latest)).filter(F.col("rank") == 1)
    open_ = last.filter(
        (F.col("expires_at") > F.lit(now)) & F.col("status").isin(*POLLABLE) & F.col("job_id").isNotNull()
    )
    runs = _table(run, ledger.RUNS)
    # A run that succeeded reconciled every document it was given: the jobs whose latest event it wrote need no
    # poll (last night's `succeeded` jobs, under 24 hours old, would otherwise send every night's plan through
    # the open-job join).
    finished = runs.filter(F.col("status") == F.lit("succeeded")).select("run_id")
    open_ = open_.join(finished, "run_id", "left_anti")
    # A job submitted under another model would bring that model's answers: resubmit its batch instead.
    return runs_of_model(open_, runs, run.model, run.skip_by)


def open_jobs(run: RunContext, valid: DataFrame) -> DataFrame:
    """Open candidates whose documents (same texts) are all still pending: poll these, don't resubmit them.

    A crash leaves every committed job `submitted` (or `succeeded`), so the latest attempt is what to poll.
    """
    from pyspark.sql import functions as F

    open_ = open_candidates(run)
    pairs = open_.select("batch_id", F.explode(F.arrays_zip("doc_ids", "text_sha256s")).alias("d")).select(
        "batch_id", F.col("d.doc_ids").alias("doc_id"), F.col("d.text_sha256s").alias("text_sha256")
    )
    matched = pairs.join(valid.select("doc_id", "text_sha256"), ["doc_id", "text_sha256"]).groupBy("batch_id").count()
    full = open_.join(matched, "batch_id").filter(F.col("count") == F.size("doc_ids"))
    return full.select(
        "batch_id", "resource", "doc_ids", "text_sha256s", "job_id", "operation_location", "submitted_at", "attempts"
    )


def stage_actions(
    run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]], *, parts: int | None = None
) -> DataFrame:
    """One row per batch for the streaming stage: new batches to submit, and resumed jobs (with their texts).

    `parts` packs the new batches into that many partitions (default: `_pack_partitions`).
    """
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
        return _pack(run, valid, parts).select(*submit_cols)
    meta = local_frame(
        spark,
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
        _resumed_schema(),
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
    fresh = _pack(run, valid.join(covered, "doc_id", "left_anti"), parts).select(*submit_cols)
    return fresh.unionByName(polls)


def _resumed_schema() -> StructType:
    from pyspark.sql.types import ArrayType, DoubleType, IntegerType, StringType, StructField, StructType

    return StructType(
        [
            StructField("batch_id", StringType()),
            StructField("resource", StringType()),
            StructField("doc_ids", ArrayType(StringType())),
            StructField("job_id", StringType()),
            StructField("operation_location", StringType()),
            StructField("submitted_at", DoubleType()),
            StructField("attempts", IntegerType()),
        ]
    )


def _table(run: RunContext, name: str) -> DataFrame:
    """The table; in a dry run, which creates nothing, an empty frame when the table does not exist yet."""
    spark = run.spark
    if run.dry_run and not table_exists(spark, run.tables, name):
        schemas = {
            ledger.JOBS: ledger.JOBS_SCHEMA,
            ledger.RESULTS: ledger.RESULTS_SCHEMA,
            ledger.RUNS: ledger.RUNS_SCHEMA,
        }
        return spark.createDataFrame([], schemas[name])
    return read_table(spark, run.tables, name)


def driver_submits(run: RunContext, valid: DataFrame) -> Iterator[dict[str, Any]]:
    """The new batches of a run packed in the driver process as the plan streams in (`toLocalIterator`): one
    `task.protocol.BatchRow` dict (`submit`) per batch.

    For the driver engine of a classic session: no shuffle and no Python worker to start before the first call;
    each partition is sorted by id and packed in order, as `stage_actions` packs its partitions.
    """
    rows = valid.select("doc_id", "text", "text_sha256").sortWithinPartitions("doc_id").toLocalIterator()
    for batch_id, doc_ids, texts, sha256s, _, resource in packed_batches(
        ((r.doc_id, r.text, r.text_sha256) for r in rows), **_pack_options(run)
    ):
        yield {
            "action": "submit",
            "batch_id": batch_id,
            "resource": resource,
            "doc_ids": doc_ids,
            "texts": texts,
            "text_sha256s": sha256s,
            "job_id": None,
            "operation_location": None,
            "submitted_at": None,
            "attempts": 0,
        }


def _pack_options(run: RunContext) -> dict[str, Any]:
    b = run.settings.batch
    return {
        "max_docs": b.max_docs_per_request,
        "max_chars": b.max_chars_per_request,
        "scope": f"{run.project}/{run.deployment}/{run.kind}",
        "resources": run.settings.service.resources,
    }


def _pack(run: RunContext, to_pack: DataFrame, parts: int | None = None) -> DataFrame:
    parts = parts or _pack_partitions(run)
    body = partial(pack_frame, **_pack_options(run))
    ordered = to_pack.repartition(parts, "doc_id").sortWithinPartitions("doc_id")
    return ordered.select("doc_id", "text", "text_sha256").mapInPandas(body, BATCH_SCHEMA)


def _pack_partitions(run: RunContext) -> int:
    """The classic session's parallelism; under Spark Connect (no sparkContext) about 1,000 documents a partition."""
    if not is_connect(run.spark):
        spark: Any = run.spark
        return max(1, int(spark.sparkContext.defaultParallelism))
    return connect_partitions(run.pack_docs)
