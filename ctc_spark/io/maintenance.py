"""Generic Delta upkeep: compaction/clustering (`OPTIMIZE`), `VACUUM`, listing and dropping tables at a location.

Each is plain SQL (classic and Spark Connect) except listing and dropping folders of a path location, which use
the session's Hadoop file system (classic sessions only). Concurrent-commit conflicts are retried.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ctc_spark.errors import ConfigError
from ctc_spark.io.connect import is_connect
from ctc_spark.io.tables import TableLocation, retry_conflicts

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["VACUUM_FLOOR_HOURS", "check_retention", "drop_table", "list_tables", "optimize", "vacuum"]

log = logging.getLogger(__name__)

VACUUM_FLOOR_HOURS = 168.0  # Delta refuses a shorter retention unless its check is turned off
_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


def check_retention(spark: SparkSession, hours: float) -> float:
    """The retention if VACUUM may use it.

    Raises:
        ConfigError: negative, or below Delta's 168-hour floor while Delta's check is on; names the value.
    """
    if hours < 0:
        raise ConfigError(f"retention must be >= 0 hours, got {hours:g}", key="--retention-hours")
    checked = str(spark.conf.get(_CHECK, "true")).lower() != "false"
    if hours < VACUUM_FLOOR_HOURS and checked:
        raise ConfigError(
            f"--retention-hours {hours:g} is below Delta's floor of {VACUUM_FLOOR_HOURS:g} hours: a run or a reader "
            f"of an older version could lose files; set {_CHECK}=false in [spark.conf] to allow it",
            key="--retention-hours",
        )
    return hours


def optimize(spark: SparkSession, location: TableLocation, table: str) -> None:
    """Compact small files (and cluster a clustered table); a table with nothing to do is left as it is."""
    name = location.name(table)
    retry_conflicts(lambda: spark.sql(f"OPTIMIZE {name}").collect(), f"optimize {table}")


def vacuum(spark: SparkSession, location: TableLocation, table: str, retention_hours: float) -> None:
    """Delete the files no version within `retention_hours` refers to (checked by `check_retention` first)."""
    name = location.name(table)
    retry_conflicts(lambda: spark.sql(f"VACUUM {name} RETAIN {retention_hours:g} HOURS").collect(), f"vacuum {table}")


def list_tables(spark: SparkSession, location: TableLocation, prefix: str = "") -> list[str]:
    """The tables (metastore) or table folders (path) at the location whose name starts with `prefix`."""
    if location.is_metastore:
        if not spark.catalog.databaseExists(location.root):
            return []
        rows = spark.sql(f"SHOW TABLES IN {location.root}").collect()
        return sorted(str(r.tableName) for r in rows if str(r.tableName).startswith(prefix.lower()))
    if is_connect(spark):
        log.warning("listing %s needs a classic session (Hadoop file system); under Spark Connect: none", location)
        return []
    fs, root = _fs(spark, location.root)
    if not fs.exists(root):
        return []
    names = (str(s.getPath().getName()) for s in fs.listStatus(root) if s.isDirectory())
    return sorted(n for n in names if n.startswith(prefix))


def drop_table(spark: SparkSession, location: TableLocation, table: str) -> None:
    """Drop the table (metastore) or delete its folder (path)."""
    if location.is_metastore:
        spark.sql(f"DROP TABLE IF EXISTS {location.name(table)}")
        return
    fs, path = _fs(spark, location.path(table))
    fs.delete(path, True)


def _fs(spark: Any, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path
