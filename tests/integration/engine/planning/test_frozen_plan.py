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
