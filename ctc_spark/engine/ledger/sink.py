"""The ledger's Delta writes: the only code that writes the `jobs` and `results` tables.

Rows arrive as the tasks report them (`protocol.JobRow`, `protocol.ResultRow`); the sink adds the run's lineage
(`RunTarget`) and turns epoch seconds into timestamps. Every results write holds one row per document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

from ctc_spark.engine.ledger import tables
from ctc_spark.engine.ledger.protocol import JobRow, ResultRow, arrow_schema
from ctc_spark.io.tables import TableLocation, append_rows, merge_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["DeltaSink", "RunTarget", "merge_results"]

_JOB_FIELDS = [f.name for f in tables.JOBS_SCHEMA.fields]
_STATUS_COLUMNS = ("status", "expires_at", "attempts", "last_error", "updated_at")
_RESULT_SCHEMA = arrow_schema(ResultRow)


@dataclass(frozen=True)
class RunTarget:
    """What every row of a run carries as lineage."""

    run_id: str
    project: str
    deployment: str
    kind: str
    api_version: str
    model_label: str | None = None
    model_id: str | None = None


class DeltaSink:
    """Writes a run's job rows and result rows into the tables at `location` (a `writer.Sink`).

    `fenced` (the run lease's `fence`) wraps every write's source, so the statement that writes also reads the
    lease row: a run whose lease was taken over writes nothing, even between the writer's check and its write.
    """

    def __init__(
        self,
        spark: SparkSession,
        location: TableLocation,
        target: RunTarget,
        *,
        fenced: Callable[[DataFrame], DataFrame] | None = None,
    ) -> None:
        self.spark = spark
        self.location = location
        self.target = target
        self.fenced = fenced

    def __repr__(self) -> str:
        return f"DeltaSink({self.location!r}, run_id={self.target.run_id!r})"

    def append_jobs(self, rows: list[JobRow]) -> None:
        append_rows(self.spark, self.location, tables.JOBS, self._fence(self._jobs_frame(rows)))

    def update_jobs(self, rows: list[JobRow]) -> None:
        # A job's row is keyed by (batch_id, job_id); attempts that never got a job id are inserted as they are.
        # The MERGE reads only this deployment's jobs submitted since the earliest of these: the files the
        # clustering by (project, deployment, submitted_at) keeps them in, not a year of history.
        submitted = [r["submitted_at"] for r in rows if r["submitted_at"] is not None]
        merge_rows(
            self.spark,
            self.location,
            tables.JOBS,
            self._fence(self._jobs_frame(rows)),
            ["batch_id", "job_id"],
            null_safe=False,
            update_columns=_STATUS_COLUMNS,
            prune=_deployment(self.target),
            since={"submitted_at": datetime.fromtimestamp(min(submitted), timezone.utc)} if submitted else None,
        )

    def write_results(self, rows: list[ResultRow]) -> None:
        import pyarrow as pa

        frame = self.spark.createDataFrame(pa.Table.from_pylist(list(rows), schema=_RESULT_SCHEMA))
        merge_results(self.spark, self.location, frame, self.target, fenced=self.fenced)

    def write_result_frame(self, frame: DataFrame) -> None:
        merge_results(self.spark, self.location, frame, self.target, fenced=self.fenced)

    def _fence(self, frame: DataFrame) -> DataFrame:
        return self.fenced(frame) if self.fenced is not None else frame

    def _jobs_frame(self, rows: list[JobRow]) -> DataFrame:
        now = datetime.now(timezone.utc)
        t = self.target
        lineage = {
            "run_id": t.run_id,
            "project_name": t.project,
            "deployment_name": t.deployment,
            "kind": t.kind,
            "updated_at": now,
        }
        values = [[_cell(name, {**r, **lineage}.get(name)) for name in _JOB_FIELDS] for r in rows]
        return self.spark.createDataFrame(values, tables.JOBS_SCHEMA)


def _cell(name: str, value: Any) -> Any:
    """A `jobs` cell: epoch seconds become timestamps; enum members (handed over in-process by the driver
    engine) become their plain strings, since the JVM cannot unpickle our classes."""
    if name in ("submitted_at", "expires_at") and value is not None:
        return datetime.fromtimestamp(float(value), timezone.utc)
    return value.value if isinstance(value, Enum) else value


def merge_results(
    spark: SparkSession,
    location: TableLocation,
    rows: DataFrame,
    target: RunTarget,
    *,
    fenced: Callable[[DataFrame], DataFrame] | None = None,
) -> None:
    """MERGE per-document rows (doc_id, text_sha256, category?, confidence?, classes?, error_*, job_id?), one per
    document: a duplicate `doc_id` in `rows` is dropped, an error row giving way to a result. `fenced` wraps the
    source (see `DeltaSink`)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    cols = set(rows.columns)

    def col(name: str, kind: Any) -> Any:
        return (F.col(name) if name in cols else F.lit(None)).cast(kind).alias(name)

    first = Window.partitionBy("doc_id").orderBy(F.col("error_code").isNull().desc())
    full = (
        rows.select(
            "doc_id",
            col("category", "string"),
            col("confidence", "double"),
            col("classes", tables.RESULTS_SCHEMA["classes"].dataType),
            col("error_code", "string"),
            col("error_message", "string"),
            F.lit(target.project).alias("project_name"),
            F.lit(target.deployment).alias("deployment_name"),
            F.lit(target.kind).alias("kind"),
            F.lit(target.api_version).alias("api_version"),
            col("job_id", "string"),
            F.lit(target.run_id).alias("run_id"),
            F.col("text_sha256"),
            F.current_timestamp().alias("classified_at"),
            F.lit(target.model_label).cast("string").alias("model_label"),
            F.lit(target.model_id).cast("string").alias("model_id"),
        )
        .withColumn("__ctc_rank", F.row_number().over(first))
        .filter(F.col("__ctc_rank") == 1)
        .drop("__ctc_rank")
    )
    source = fenced(full) if fenced is not None else full
    keys = ["doc_id", "project_name", "deployment_name"]
    merge_rows(spark, location, tables.RESULTS, source, keys, prune=_deployment(target))


def _deployment(target: RunTarget) -> dict[str, str]:
    """The literals every row of the run has: a MERGE that states them reads only the deployment's files."""
    return {"project_name": target.project, "deployment_name": target.deployment}
