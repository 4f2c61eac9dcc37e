"""Delta table locations: folders and metastore schemas, idempotent creation, MERGE upserts."""

from __future__ import annotations

from pathlib import Path

import pytest
from delta_probes import files_read

from ctc_spark.io.tables import (
    TableLocation,
    append_rows,
    ensure_table,
    merge_rows,
    read_table,
    replace_rows,
    table_exists,
)

pytestmark = pytest.mark.integration

SCHEMA = "id STRING, n INT"


def _schema():
    from pyspark.sql.types import IntegerType, StringType, StructField, StructType

    return StructType([StructField("id", StringType()), StructField("n", IntegerType())])


@pytest.mark.parametrize("kind", ["path", "metastore"])
def test_ensure_and_merge_are_idempotent(spark, tmp_path: Path, kind: str) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables") if kind == "path" else "spark_catalog.ctc_tables_test")
    ensure_table(spark, loc, "things", _schema())
    ensure_table(spark, loc, "things", _schema())
    assert table_exists(spark, loc, "things")
    rows = spark.createDataFrame([("a", 1), ("b", 2)], SCHEMA)
    merge_rows(spark, loc, "things", rows, ["id"])
    merge_rows(spark, loc, "things", rows, ["id"])
    merge_rows(spark, loc, "things", spark.createDataFrame([("b", 3)], SCHEMA), ["id"], update_condition="s.n > t.n")
    merge_rows(spark, loc, "things", spark.createDataFrame([("a", 0)], SCHEMA), ["id"], update_condition="s.n > t.n")
    got = sorted((r.id, r.n) for r in read_table(spark, loc, "things").collect())
    assert got == [("a", 1), ("b", 3)]
    assert spark.sql(f"SELECT count(*) AS c FROM {loc.name('things')}").first().c == 2


@pytest.mark.parametrize("kind", ["path", "metastore"])
def test_replace_rows_swaps_the_matching_rows_in_one_commit_and_refuses_rows_outside_its_condition(
    spark, tmp_path: Path, kind: str
) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables") if kind == "path" else "spark_catalog.ctc_replace_test")
    ensure_table(spark, loc, "things", _schema(), cluster_by=("id",))
    append_rows(spark, loc, "things", spark.createDataFrame([("a", 1), ("b", 2)], SCHEMA))
    before = spark.sql(f"DESCRIBE HISTORY {loc.name('things')}").count()
    replace_rows(spark, loc, "things", spark.createDataFrame([("a", 5)], SCHEMA), "id = 'a'")
    replace_rows(spark, loc, "things", spark.createDataFrame([("c", 1)], SCHEMA), "id = 'c'")  # none: inserted
    got = sorted((r.id, r.n) for r in read_table(spark, loc, "things").collect())
    assert got == [("a", 5), ("b", 2), ("c", 1)]
    assert spark.sql(f"DESCRIBE HISTORY {loc.name('things')}").count() == before + 2  # a commit each
    with pytest.raises(Exception, match=r"(?i)replace.?where|does not conform"):
        replace_rows(spark, loc, "things", spark.createDataFrame([("b", 9)], SCHEMA), "id = 'a'")
    assert sorted((r.id, r.n) for r in read_table(spark, loc, "things").collect()) == got
    if kind == "metastore":
        spark.sql(f"DROP TABLE {loc.name('things')}")


def test_a_pruned_merge_updates_only_its_deployment_whose_files_its_literals_single_out(spark, tmp_path: Path) -> None:
    from ctc_spark.io.layout import describe_detail

    loc = TableLocation.parse(str(tmp_path / "tables"))
    schema = "doc_id STRING, project_name STRING, deployment_name STRING, n INT"
    ensure_table(spark, loc, "results", spark.createDataFrame([], schema).schema, cluster_by=("project_name",))
    for deployment in ("a", "b", "c"):
        rows = spark.createDataFrame([(str(i), "p", deployment, 0) for i in range(50)], schema)
        merge_rows(spark, loc, "results", rows, ["doc_id", "project_name", "deployment_name"])
    # One file per commit (the source is coalesced), and the deployment's literals skip the other two.
    assert describe_detail(spark, loc, "results").num_files == 3
    mine = read_table(spark, loc, "results").filter("project_name = 'p' AND deployment_name = 'b'")
    assert files_read(mine) == 1
    update = spark.createDataFrame([("1", "p", "b", 7), ("new", "p", "b", 1)], schema)
    merge_rows(
        spark,
        loc,
        "results",
        update,
        ["doc_id", "project_name", "deployment_name"],
        prune={"project_name": "p", "deployment_name": "b"},
    )
    got = {(r.deployment_name, r.doc_id): r.n for r in read_table(spark, loc, "results").collect()}
    assert len(got) == 151 and got[("b", "1")] == 7 and got[("a", "1")] == got[("c", "1")] == 0
    last = spark.sql(f"DESCRIBE HISTORY {loc.name('results')} LIMIT 1").first()
    assert last.operation == "MERGE" and last.operationMetrics["numTargetDeletionVectorsAdded"] == "1"
