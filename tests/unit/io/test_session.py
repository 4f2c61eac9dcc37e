"""The session factory's decisions that need no JVM."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import SparkSettings
from ctc_spark.io.delta import DELTA_VERSION, delta_jars
from ctc_spark.io.session import (
    LOCAL_MASTER,
    is_databricks,
    local_cores,
    parse_spark_defaults,
    parse_submit_args,
    session_conf,
)


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


DEFAULTS = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.pyspark.python": "/venv/bin/python",
    "spark.jars": "/repo/.jars/delta-spark.jar",
    "spark.sql.shuffle.partitions": "2",
}
CONFIGURED = SparkSettings(
    master="local[2]",
    app_name="ctc-spark",
    conf=(("spark.sql.shuffle.partitions", "8"), ("spark.executor.memory", "2g")),
)


def test_without_a_launcher_the_config_file_overrides_the_built_in_defaults() -> None:
    chosen = session_conf({}, CONFIGURED, DEFAULTS)
    assert chosen["spark.master"] == "local[2]"
    assert chosen["spark.sql.shuffle.partitions"] == "8"
    assert chosen["spark.executor.memory"] == "2g"
    assert chosen["spark.pyspark.python"] == "/venv/bin/python"
    assert chosen["spark.jars"] == "/repo/.jars/delta-spark.jar"


def test_no_master_anywhere_falls_back_to_local_star() -> None:
    assert session_conf({}, SparkSettings(master=""), DEFAULTS)["spark.master"] == LOCAL_MASTER


def test_spark_submit_master_and_conf_win_over_the_config_file() -> None:
    launcher = {
        "spark.master": "spark://10.0.0.5:7077",
        "spark.app.name": "classify.py",
        "spark.executor.memory": "8g",
        "spark.jars": "/opt/delta-spark.jar",
    }
    chosen = session_conf(launcher, CONFIGURED, DEFAULTS)
    assert not set(chosen) & set(launcher), "a value the launcher set was overridden"
    assert chosen["spark.sql.shuffle.partitions"] == "8", "the config file fills what the launcher left unset"
    assert "spark.pyspark.python" not in chosen, "the driver's interpreter path is not the workers'"
    assert "spark.jars.packages" not in chosen


def test_launcher_packages_replace_the_local_delta_jars() -> None:
    chosen = session_conf({"spark.jars.packages": "io.delta:delta-spark_2.13:4.0.1"}, CONFIGURED, DEFAULTS)
    assert "spark.jars" not in chosen and "spark.jars.packages" not in chosen
    assert chosen["spark.master"] == "local[2]"


def test_a_local_launcher_master_keeps_this_interpreter_for_workers() -> None:
    chosen = session_conf({"spark.master": "local[4]"}, CONFIGURED, DEFAULTS)
    assert "spark.master" not in chosen
    assert chosen["spark.pyspark.python"] == "/venv/bin/python"


@pytest.mark.parametrize(
    ("master", "cores"),
    [
        ("local", 1),
        ("local[2]", 2),
        ("local[*]", 8),
        ("local[4, 3]", 4),
        ("local[*,2]", 8),
        ("local[0]", 1),
        ("local-cluster[2,1,1024]", None),
        ("spark://10.0.0.5:7077", None),
        ("yarn", None),
        ("local[two]", None),
    ],
)
def test_local_cores_are_a_local_masters_task_slots(master: str, cores: int | None) -> None:
    assert local_cores(master, 8) == cores


SNAPSHOTS = "spark.databricks.delta.snapshotPartitions"


def test_a_local_master_rebuilds_delta_snapshots_in_a_partition_a_core_at_most() -> None:
    defaults = {**DEFAULTS, SNAPSHOTS: "4"}
    assert session_conf({"spark.master": "local[2]"}, CONFIGURED, defaults)[SNAPSHOTS] == "2"
    assert session_conf({}, SparkSettings(master="local[1]"), defaults)[SNAPSHOTS] == "1"
    assert session_conf({}, SparkSettings(master="local[16]"), defaults)[SNAPSHOTS] == "4", "never more than ours"
    assert session_conf({"spark.master": "yarn"}, CONFIGURED, defaults)[SNAPSHOTS] == "4", "a cluster keeps ours"
    chosen = session_conf({"spark.master": "local[2]", SNAPSHOTS: "50"}, CONFIGURED, defaults)
    assert SNAPSHOTS not in chosen, "the launcher's value stands"
    configured = SparkSettings(master="local[2]", conf=((SNAPSHOTS, "8"),))
    assert session_conf({}, configured, defaults)[SNAPSHOTS] == "8", "the config file's value stands"


def test_spark_defaults_file_is_parsed_in_both_separator_styles(tmp_path: Path) -> None:
    conf = tmp_path / "spark-defaults.conf"
    conf.write_text(
        "# cluster defaults\nspark.master   yarn\nspark.executor.cores=4\n\nspark.eventLog.dir  hdfs:///logs x\n"
        "not.spark 1\n"
    )
    assert parse_spark_defaults(conf) == {
        "spark.master": "yarn",
        "spark.executor.cores": "4",
        "spark.eventLog.dir": "hdfs:///logs x",
    }
    assert parse_spark_defaults(tmp_path / "missing.conf") == {}
    assert parse_spark_defaults(None) == {}


def test_pyspark_submit_args_give_master_jars_and_conf() -> None:
    args = "--master k8s://https://api:6443 --packages io.delta:delta-spark_2.13:4.0.1 --conf spark.a=1 pyspark-shell"
    assert parse_submit_args(args) == {
        "spark.master": "k8s://https://api:6443",
        "spark.jars.packages": "io.delta:delta-spark_2.13:4.0.1",
        "spark.a": "1",
    }
    assert parse_submit_args("--master=yarn --name 'my job' pyspark-shell") == {
        "spark.master": "yarn",
        "spark.app.name": "my job",
    }
    assert parse_submit_args("") == {}


def test_the_scheduler_pools_file_gives_the_lease_pool_a_minimum_share() -> None:
    import xml.etree.ElementTree as ET

    from ctc_spark.engine.lease import LEASE_POOL
    from ctc_spark.io.session import SCHEDULER_POOLS, _builtin_defaults

    assert _builtin_defaults(testing=False, jars_dir=None)["spark.scheduler.allocation.file"] == str(SCHEDULER_POOLS)
    pools = {p.get("name"): p for p in ET.parse(SCHEDULER_POOLS).getroot().iter("pool")}
    assert list(pools) == [LEASE_POOL] and pools[LEASE_POOL].findtext("minShare") == "1"
