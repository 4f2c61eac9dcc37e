"""Table layout SQL: creation with clustering and properties, an idempotent upgrade, MERGE conditions that prune."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from ctc_spark.io.layout import TABLE_PROPERTIES, TableDetail, create_sql, upgrade_sql
from ctc_spark.io.tables import merge_condition, sql_literal

SCHEMA = StructType([StructField("doc_id", StringType(), False), StructField("tags", ArrayType(StringType()))])


def test_create_sql_declares_columns_clustering_and_properties_in_version_0() -> None:
    sql = create_sql("delta.`/t/results`", SCHEMA, cluster_by=("doc_id",))
    assert sql.startswith(
        "CREATE TABLE IF NOT EXISTS delta.`/t/results` (`doc_id` string NOT NULL, `tags` array<string>)"
    )
    assert " USING delta CLUSTER BY (`doc_id`) TBLPROPERTIES (" in sql
    assert "'delta.enableDeletionVectors' = 'true'" in sql and "'delta.checkpointInterval' = '50'" in sql


def _detail(**kw: object) -> TableDetail:
    base = {"numFiles": 3, "sizeInBytes": 10, "partitionColumns": [], "clusteringColumns": [], "properties": {}}
    return TableDetail.from_row(base | kw)


def test_an_old_table_gets_its_properties_and_clustering_by_alter_table() -> None:
    statements = upgrade_sql("t", _detail(), cluster_by=("project_name", "doc_id"))
    assert statements[0].startswith("ALTER TABLE t SET TBLPROPERTIES (")
    assert all(f"'{k}' = '{v}'" in statements[0] for k, v in TABLE_PROPERTIES.items())
    assert statements[1] == "ALTER TABLE t CLUSTER BY (`project_name`, `doc_id`)"


def test_an_upgraded_table_needs_nothing_more() -> None:
    done = _detail(clusteringColumns=["doc_id"], properties=dict(TABLE_PROPERTIES) | {"other": "x"})
    assert upgrade_sql("t", done, cluster_by=("doc_id",)) == []


def test_only_the_properties_that_differ_are_set() -> None:
    props = dict(TABLE_PROPERTIES) | {"delta.checkpointInterval": "10"}
    statements = upgrade_sql("t", _detail(clusteringColumns=["doc_id"], properties=props), cluster_by=("doc_id",))
    assert statements == ["ALTER TABLE t SET TBLPROPERTIES ('delta.checkpointInterval' = '50')"]


def test_a_partitioned_table_keeps_its_partitions() -> None:
    detail = _detail(partitionColumns=["project_name"], properties=dict(TABLE_PROPERTIES))
    assert upgrade_sql("t", detail, cluster_by=("doc_id",)) == []


def test_merge_condition_adds_pruning_literals_on_the_target() -> None:
    on = merge_condition(["doc_id"], prune={"project_name": "p'1", "deployment_name": "prod"})
    assert on == "t.`doc_id` <=> s.`doc_id` AND t.`project_name` = 'p\\'1' AND t.`deployment_name` = 'prod'"
    assert merge_condition(["a", "b"], null_safe=False) == "t.`a` = s.`a` AND t.`b` = s.`b`"


def test_sql_literals() -> None:
    assert sql_literal("a\\b") == "'a\\\\b'"
    assert sql_literal(3) == "3" and sql_literal(True) == "TRUE"
    assert sql_literal(datetime(2026, 1, 2, tzinfo=timezone.utc)) == "TIMESTAMP '2026-01-02 00:00:00+00:00'"
    assert sql_literal(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "TIMESTAMP '2026-01-02 03:04:05+00:00'"
    with pytest.raises(TypeError, match="object"):
        sql_literal(object())
