"""The ledger's Delta writes: the only code that writes the `jobs` and `results` tables.

Rows arrive as the tasks report them (`protocol.JobRow`, `protocol.ResultRow`); the sink adds the run's lineage
(`RunTarget`) and turns epoch seconds into timestamps. Every results write holds one row per document.

What a write costs is the batch, not the table's history (README "The tables"):
- `jobs` is an event log: a job's id is appended when it is committed, each later state appended as a new row
  (the latest `updated_at` of a job is its state); every write is a blind append of one file.
- `results`: the rows of documents with no earlier row are appended; the others (a retried error, a changed
  text, a new model, a batch reported twice) are MERGEd with predicates on the deployment and the documents'
  ids (`routing.py` decides which is which).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

from ctc_spark.engine.ledger import tables
from ctc_spark.engine.ledger.protocol import JobRow, ResultRow, arrow_schema
from ctc_spark.engine.ledger.routing import ResultRouting
from ctc_spark.io.frames import local_frame
from ctc_spark.io.tables import TableLocation, append_rows, merge_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["DeltaSink", "RunTarget", "merge_results", "result_frame"]

_JOB_FIELDS = [f.name for f in tables.JOBS_SCHEMA.fields]
# A MERGE of more documents than this prunes by the deployment alone: a longer `IN` list costs more to plan
# than its file skipping saves.
_MAX_IN_LIST = 1000
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
    `routing` says which result rows are appended (default: none, every write is a MERGE).
    """

    def __init__(
        self,
        spark: SparkSession,
        location: TableLocation,
        target: RunTarget,
        *,
        fenced: Callable[[DataFrame], DataFrame] | None = None,
        routing: ResultRouting | None = None,
    ) -> None:
        self.spark = spark
        self.location = location
        self.target = target
        self.fenced = fenced
        self.routing = routing or ResultRouting(None)

    def __repr__(self) -> str:
        return f"DeltaSink({self.location!r}, run_id={self.target.run_id!r})"

    def append_jobs(self, rows: list[JobRow]) -> None:
        append_rows(self.spark, self.location, tables.JOBS, self._fence(self._jobs_frame(rows)))

    def update_jobs(self, rows: list[JobRow]) -> None:
        # Job states are events: appended, never updated in place (a MERGE would read the deployment's jobs).
        self.append_jobs(rows)

    def write_results(self, rows: list[ResultRow]) -> None:
        """Append the rows of documents new to `results`, then MERGE the rest (one row per document in `rows`)."""
        fresh, replace = self.routing.split(rows)
        if fresh:
            frame = result_frame(self._frame(fresh), self.target)
            append_rows(self.spark, self.location, tables.RESULTS, self._fence(frame))
            self.routing.wrote(r["doc_id"] for r in fresh)
        if replace:
            ids = sorted({r["doc_id"] for r in replace})
            merge_results(
                self.spark,
                self.location,
                self._frame(replace),
                self.target,
                fenced=self.fenced,
                doc_ids=ids if len(ids) <= _MAX_IN_LIST else None,
            )
            self.routing.wrote(ids)

    def write_result_frame(self, frame: DataFrame) -> None:
        """Write a frame of result rows (the plan's invalid documents): with a `has_row` column, those without an
        earlier row are appended and the others MERGEd (only when there are any); without it, all MERGEd."""
        from pyspark.sql import functions as F

        if not self.routing.appends or "has_row" not in frame.columns:
            merge_results(self.spark, self.location, frame.drop("has_row"), self.target, fenced=self.fenced)
            return
        fresh = result_frame(frame.filter(~F.col("has_row")), self.target)
        append_rows(self.spark, self.location, tables.RESULTS, self._fence(fresh))
        known = frame.filter(F.col("has_row")).drop("has_row")
        if known.limit(1).count():
            merge_results(self.spark, self.location, known, self.target, fenced=self.fenced)

    def _frame(self, rows: list[ResultRow]) -> DataFrame:
        import pyarrow as pa

        return self.spark.createDataFrame(pa.Table.from_pylist(list(rows), schema=_RESULT_SCHEMA))

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
        merged = ({**r, **lineage} for r in rows)  # once a row, not once a cell
        values = [[_cell(name, m.get(name)) for name in _JOB_FIELDS] for m in merged]
        return local_frame(self.spark, values, tables.JOBS_SCHEMA)


def _cell(name: str, value: Any) -> Any:
    """A `jobs` cell: epoch seconds become timestamps; enum members (handed over in-process by the driver
    engine) become their plain strings, since the JVM cannot unpickle our classes."""
    if name in ("submitted_at", "expires_at") and value is not None:
        return datetime.fromtimestamp(float(value), timezone.utc)
    return value.value if isinstance(value, Enum) else value


def result_frame(rows: DataFrame, target: RunTarget) -> DataFrame:
    """Per-document rows (doc_id, text_sha256, category?, confidence?, classes?, error_*, job_id?) as `results`
    rows: the missing columns null, the run's lineage added, in the table's column order."""
    from pyspark.sql import functions as F

    cols = set(rows.columns)

    def col(name: str, kind: Any) -> Any:
        return (F.col(name) if name in cols else F.lit(None)).cast(kind).alias(name)

    return rows.select(
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


def merge_results(
    spark: SparkSession,
    location: TableLocation,
    rows: DataFrame,
    target: RunTarget,
    *,
    fenced: Callable[[DataFrame], DataFrame] | None = None,
    doc_ids: list[str] | None = None,
) -> None:
    """MERGE per-document rows (as for `result_frame`), one per document: a duplicate `doc_id` in `rows` is
    dropped, an error row giving way to a result. `fenced` wraps the source (see `DeltaSink`); `doc_ids`, when
    given, are all the documents of `rows`, and the MERGE reads only the files whose statistics may hold them."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    first = Window.partitionBy("doc_id").orderBy(F.col("error_code").isNull().desc())
    full = (
        result_frame(rows, target)
        .withColumn("__ctc_rank", F.row_number().over(first))
        .filter(F.col("__ctc_rank") == 1)
        .drop("__ctc_rank")
    )
    source = fenced(full) if fenced is not None else full
    keys = ["doc_id", "project_name", "deployment_name"]
    within = {"doc_id": doc_ids} if doc_ids else None
    merge_rows(spark, location, tables.RESULTS, source, keys, prune=_deployment(target), within=within)


def _deployment(target: RunTarget) -> dict[str, str]:
    """The literals every row of the run has: a MERGE that states them reads only the deployment's files."""
    return {"project_name": target.project, "deployment_name": target.deployment}
