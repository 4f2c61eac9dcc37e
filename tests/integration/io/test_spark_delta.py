"""The session factory's Delta wiring: write, MERGE and read back with spark.sql."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_delta_write_merge_and_sql_read(spark, tmp_path: Path) -> None:
    from delta.tables import DeltaTable

    path = str(tmp_path / "t")
    spark.createDataFrame([(1, "a"), (2, "b")], "id INT, v STRING").write.format("delta").save(path)
    updates = spark.createDataFrame([(2, "B"), (3, "c")], "id INT, v STRING")
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(updates.alias("u"), "t.id = u.id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    rows = spark.sql(f"SELECT id, v FROM delta.`{path}` ORDER BY id").collect()
    assert [(r.id, r.v) for r in rows] == [(1, "a"), (2, "B"), (3, "c")]
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()
    assert [h.operation for h in sorted(history, key=lambda h: h.version)] == ["WRITE", "MERGE"]


def test_session_uses_local_jars(spark) -> None:
    from ctc_spark.io.delta import delta_jars

    jars = spark.sparkContext.getConf().get("spark.jars", "")
    assert delta_jars(), "run `make setup`: the Delta jars are missing from .jars/"
    assert all(str(p) in jars for p in delta_jars())
