"""The engine's Delta tables — `jobs` (the ledger), `results`, `runs` — and their schemas (job states: `states.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql.types import (
    ArrayType,
    DoubleType,
    IntegerType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from ctc_spark.io.tables import TableLocation

__all__ = [
    "CLASSES_VIEW_SQL",
    "CLUSTER_BY",
    "JOBS",
    "JOBS_SCHEMA",
    "JOB_STATES_VIEW_SQL",
    "RESULTS",
    "RESULTS_SCHEMA",
    "RUNS",
    "RUNS_SCHEMA",
    "classes_query",
    "ensure_engine_tables",
    "job_states_query",
]

JOBS, RESULTS, RUNS = "jobs", "results", "runs"
# Liquid clustering (README "The tables"): reads and MERGEs prune by project/deployment, then by document id
# (`results`) or submission time (`jobs`, whose open-job lookup reads the last 24 hours).
CLUSTER_BY: dict[str, tuple[str, ...]] = {
    RESULTS: ("project_name", "deployment_name", "doc_id"),
    JOBS: ("project_name", "deployment_name", "submitted_at"),
    RUNS: ("run_id",),
}

_CLASS = StructType([StructField("category", StringType()), StructField("confidence", DoubleType())])

JOBS_SCHEMA = StructType(
    [
        StructField("batch_id", StringType(), False),
        StructField("run_id", StringType()),
        StructField("project_name", StringType()),
        StructField("deployment_name", StringType()),
        StructField("kind", StringType()),
        StructField("doc_ids", ArrayType(StringType())),
        StructField("text_sha256s", ArrayType(StringType())),
        StructField("n_chars", LongType()),
        StructField("resource", StringType()),
        StructField("job_id", StringType()),
        StructField("operation_location", StringType()),
        StructField("submitted_at", TimestampType()),
        StructField("expires_at", TimestampType()),
        StructField("status", StringType()),
        StructField("attempts", IntegerType()),
        StructField("last_error", StringType()),
        StructField("updated_at", TimestampType()),
    ]
)

RESULTS_SCHEMA = StructType(
    [
        StructField("doc_id", StringType(), False),
        StructField("category", StringType()),
        StructField("confidence", DoubleType()),
        StructField("classes", ArrayType(_CLASS)),
        StructField("error_code", StringType()),
        StructField("error_message", StringType()),
        StructField("project_name", StringType(), False),
        StructField("deployment_name", StringType(), False),
        StructField("kind", StringType()),
        StructField("api_version", StringType()),
        StructField("job_id", StringType()),
        StructField("run_id", StringType()),
        StructField("text_sha256", StringType()),
        StructField("classified_at", TimestampType()),
        StructField("model_label", StringType()),  # the deployment's model when the row was written
        StructField("model_id", StringType()),
    ]
)

RUNS_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), False),
        StructField("status", StringType()),
        StructField("project_name", StringType()),
        StructField("deployment_name", StringType()),
        StructField("kind", StringType()),
        StructField("config", StringType()),
        StructField("started_at", TimestampType()),
        StructField("finished_at", TimestampType()),
        StructField("duration_seconds", DoubleType()),
        StructField("input_docs", LongType()),
        StructField("skipped_docs", LongType()),
        StructField("succeeded_docs", LongType()),
        StructField("errored_docs", LongType()),
        StructField("submits", LongType()),
        StructField("polls", LongType()),
        StructField("throttled", LongType()),
        StructField("retries", LongType()),
        StructField("resubmitted_batches", LongType()),
        StructField("text_records", LongType()),
        StructField("error", StringType()),
        StructField("model_label", StringType()),
        StructField("model_id", StringType()),
        StructField("model_deployed_at", TimestampType()),
        StructField("skip_by", StringType()),
        StructField("step_seconds", MapType(StringType(), DoubleType())),  # tables, planning, first_call, ...
    ]
)

# One row per (document, class): what SQL users want for class counts and confidence histograms.
CLASSES_VIEW_SQL = """
SELECT r.doc_id, r.project_name, r.deployment_name, r.run_id, r.job_id,
       c.category, c.confidence, c.category = r.category AS is_top
FROM {results} r
LATERAL VIEW explode(r.classes) e AS c
WHERE r.error_code IS NULL
"""


# `jobs` is an event log: a job's latest row (by `updated_at`) is its state.
JOB_STATES_VIEW_SQL = """
SELECT * EXCEPT (__ctc_rank) FROM (
  SELECT j.*, row_number() OVER (
    PARTITION BY j.batch_id, j.job_id, j.attempts ORDER BY j.updated_at DESC) AS __ctc_rank
  FROM {jobs} j)
WHERE __ctc_rank = 1
"""


def job_states_query(jobs_table: str) -> str:
    """The SQL of each submission's latest state: one row per (batch_id, job_id, attempts) of `jobs`."""
    return JOB_STATES_VIEW_SQL.format(jobs=jobs_table).strip()


def classes_query(results_table: str) -> str:
    """The SQL that explodes `classes` into one row per (document, class)."""
    return CLASSES_VIEW_SQL.format(results=results_table).strip()


def ensure_engine_tables(spark: SparkSession, location: TableLocation) -> set[str]:
    """Create `jobs`, `results` and `runs` (idempotent; tables of an earlier version are upgraded in place to
    their clustering and properties) and, for metastore schemas, the views `result_classes` and `job_states`.

    Returns the names of the tables that did not exist (and so are empty).
    """
    from concurrent.futures import ThreadPoolExecutor

    from ctc_spark.io.tables import ensure_table

    if location.is_metastore:
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {location.root}")
    # Three independent Delta commits: concurrent Spark jobs instead of one after the other.
    with ThreadPoolExecutor(3, thread_name_prefix="ctc-ensure") as pool:
        done = {
            name: pool.submit(ensure_table, spark, location, name, schema, cluster_by=CLUSTER_BY[name])
            for name, schema in ((JOBS, JOBS_SCHEMA), (RESULTS, RESULTS_SCHEMA), (RUNS, RUNS_SCHEMA))
        }
        created = {name for name, f in done.items() if f.result()}
    if location.is_metastore:
        view = ".".join((location.root, "result_classes"))
        spark.sql(f"CREATE OR REPLACE VIEW {view} AS {classes_query(location.name(RESULTS))}")
        states = ".".join((location.root, "job_states"))
        spark.sql(f"CREATE OR REPLACE VIEW {states} AS {job_states_query(location.name(JOBS))}")
    return created
