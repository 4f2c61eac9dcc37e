"""The frozen plan on real Delta: its write counts it (no second read of the table), and it is dropped after."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.engine.planning.frozen import frozen_plan, plan_table_name
from ctc_spark.engine.planning.inputs import plan_counts
from ctc_spark.io.tables import TableLocation, table_exists

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["path", "metastore"])
def test_the_plan_is_counted_by_its_own_write_and_dropped_on_the_way_out(spark, tmp_path: Path, kind: str) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables") if kind == "path" else "spark_catalog.ctc_frozen_test")
    if loc.is_metastore:
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {loc.root}")  # a run's tables step creates it
    rows = [
        ("a", "text a", "h-a", False, None),
        ("b", "text b", "h-b", True, None),
        ("c", "", "h-c", False, "EmptyDocument"),
        ("d", None, "h-d", True, "NullDocument"),
        ("e", "e" * 2500, "h-e", False, None),  # 3 text records
    ]
    planned = spark.createDataFrame(
        rows, "doc_id STRING, text STRING, text_sha256 STRING, has_row BOOLEAN, error_code STRING"
    )
    name = plan_table_name("p", "d", "run-1")
    with frozen_plan(planned, loc, project="p", deployment="d", run_id="run-1", counts=plan_counts()) as plan:
        assert plan.counts == {"n": 5, "bad": 2, "known": 2, "records": 5}  # invalid rows bill nothing
        recount = plan.frame.agg(*plan_counts()).first()
        assert recount is not None and recount.asDict() == plan.counts
        assert table_exists(spark, loc, name)
    assert not table_exists(spark, loc, name)
    with frozen_plan(planned, loc, project="p", deployment="d", run_id="run-2") as uncounted:
        assert uncounted.counts is None and uncounted.frame.count() == 5


def test_a_session_that_reports_no_observed_counts_gets_the_plan_counted(
    spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctc_spark.io.observe import Observed

    monkeypatch.setattr(Observed, "metrics", lambda self, **kwargs: None)  # as a session that sends none back
    loc = TableLocation.parse(str(tmp_path / "tables"))
    planned = spark.createDataFrame(
        [("a", "t", "h", True, None), ("b", "", "h", False, "EmptyDocument"), ("c", "t", "h", False, None)],
        "doc_id STRING, text STRING, text_sha256 STRING, has_row BOOLEAN, error_code STRING",
    )
    with frozen_plan(planned, loc, project="p", deployment="d", run_id="run-3", counts=plan_counts()) as plan:
        assert plan.counts == {"n": 3, "bad": 1, "known": 1, "records": 2}


def test_a_plan_kept_in_memory_is_counted_does_not_follow_later_writes_and_leaves_nothing(
    spark, tmp_path: Path
) -> None:
    from pyspark.sql import functions as F

    from ctc_spark.io.tables import append_rows, create_table_with_rows, read_table

    loc = TableLocation.parse(str(tmp_path / "tables"))
    done = spark.createDataFrame([("b",)], "doc_id STRING")
    create_table_with_rows(spark, loc, "done", done)
    docs = spark.createDataFrame(
        [("a", "text a", "h-a"), ("b", "text b", "h-b"), ("c", "", "h-c"), ("d", "d" * 2500, "h-d")],
        "doc_id STRING, text STRING, text_sha256 STRING",
    )
    # As the skip join: the documents without a row in a table the run itself writes to.
    pending = docs.join(read_table(spark, loc, "done"), "doc_id", "left_anti")
    planned = pending.withColumn("has_row", F.lit(False)).withColumn(
        "error_code", F.when(F.col("text") == "", F.lit("EmptyDocument"))
    )
    with frozen_plan(
        planned, loc, project="p", deployment="d", run_id="run-4", counts=plan_counts(), in_memory=True
    ) as plan:
        rdd = plan.frame._jdf.queryExecution().analyzed().rdd().id()  # the checkpoint: no lineage left
        assert rdd in _persisted(spark)
        assert plan.counts == {"n": 3, "bad": 1, "known": 0, "records": 4}
        # The run writes rows for planned documents while it streams: the plan must not shrink under it.
        append_rows(spark, loc, "done", spark.createDataFrame([("a",), ("d",)], "doc_id STRING"))
        assert sorted(r.doc_id for r in plan.frame.select("doc_id").collect()) == ["a", "c", "d"]
        assert planned.count() == 1  # what the same plan, not kept, gives after those writes
    assert rdd not in _persisted(spark)  # its blocks released, not left to the JVM's collector
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["done"]  # no plan table


def _persisted(spark) -> set[int]:
    """The ids of the RDDs the session's block manager keeps."""
    return {int(k) for k in spark.sparkContext._jsc.getPersistentRDDs().keySet()}
