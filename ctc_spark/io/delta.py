"""Delta Lake for our sessions, in one place: the version, the jars `make setup` fetches, and the session conf
that a classic session and a local Spark Connect server both get."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DELTA_EXTENSION", "DELTA_VERSION", "delta_conf", "delta_jars", "testing_conf"]

DELTA_VERSION = "4.0.1"
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
_ARTIFACTS = (f"delta-spark_2.13-{DELTA_VERSION}.jar", f"delta-storage-{DELTA_VERSION}.jar")
_DEFAULT_JARS_DIR = Path(__file__).resolve().parents[2] / ".jars"


def delta_jars(jars_dir: str | Path | None = None) -> list[Path]:
    """The Delta jars fetched by `make setup`, or [] when they are not all there."""
    folder = Path(jars_dir) if jars_dir is not None else _DEFAULT_JARS_DIR
    found = [folder / name for name in _ARTIFACTS]
    return found if all(p.is_file() for p in found) else []


def delta_conf(jars: Sequence[Path]) -> dict[str, str]:
    """The Delta extension and catalog, Arrow, this interpreter for Python workers, and the jars: the local ones,
    else Maven coordinates for Ivy to resolve."""
    conf = {
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Python workers use this interpreter (it has pyarrow and ctc_spark), not whatever `python3` is on PATH.
        "spark.pyspark.python": sys.executable,
        # Delta's default of 50 snapshot partitions makes every small ledger read run 50 tasks.
        "spark.databricks.delta.snapshotPartitions": "4",
    }
    if jars:
        conf["spark.jars"] = ",".join(str(p) for p in jars)
    else:
        conf["spark.jars.packages"] = f"io.delta:delta-spark_2.13:{DELTA_VERSION}"
    return conf


def testing_conf() -> dict[str, str]:
    """A small local session for tests: no UI, two partitions."""
    return {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    }
