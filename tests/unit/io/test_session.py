"""The session factory's decisions that need no JVM."""

from __future__ import annotations

from pathlib import Path

from ctc_spark.io.session import DELTA_VERSION, delta_jars, is_databricks


def test_databricks_is_detected_from_its_runtime_variable() -> None:
    assert is_databricks({"DATABRICKS_RUNTIME_VERSION": "17.3"})
    assert not is_databricks({})


def test_delta_jars_need_both_artifacts(tmp_path: Path) -> None:
    assert delta_jars(tmp_path) == []
    (tmp_path / f"delta-spark_2.13-{DELTA_VERSION}.jar").write_bytes(b"")
    assert delta_jars(tmp_path) == []
    (tmp_path / f"delta-storage-{DELTA_VERSION}.jar").write_bytes(b"")
    assert [p.name for p in delta_jars(tmp_path)] == [
        f"delta-spark_2.13-{DELTA_VERSION}.jar",
        f"delta-storage-{DELTA_VERSION}.jar",
    ]


def test_pinned_pyspark_matches_the_delta_line() -> None:
    import pyspark

    assert pyspark.__version__.split(".")[:2] == DELTA_VERSION.split(".")[:2]
