"""Generic Delta upkeep: compaction/clustering (`OPTIMIZE`), `VACUUM`, listing and dropping tables at a location.

Each is plain SQL (classic and Spark Connect) except listing and dropping the folders of a path location: a
classic session uses its Hadoop file system; a Spark Connect client, which has no JVM, lists them by reading
their Delta logs' file names (the server reads the folder) and deletes a folder it can reach itself, or empties
the table it cannot. Concurrent-commit conflicts are retried.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

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
        return _list_by_logs(spark, location.root, prefix)
    fs, root = _fs(spark, location.root)
    if not fs.exists(root):
        return []
    names = (str(s.getPath().getName()) for s in fs.listStatus(root) if s.isDirectory())
    return sorted(n for n in names if n.startswith(prefix))


def drop_table(spark: SparkSession, location: TableLocation, table: str) -> None:
    """Drop the table (metastore) or delete its folder (path).

    Under Spark Connect a folder the client cannot reach (a remote file system only the server sees) is emptied
    instead: its rows deleted and their files vacuumed; its log stays, and a warning names it.

    Raises:
        OSError: a local folder could not be deleted.
    """
    if location.is_metastore:
        spark.sql(f"DROP TABLE IF EXISTS {location.name(table)}")
        return
    if not is_connect(spark):
        fs, path = _fs(spark, location.path(table))
        fs.delete(path, True)
        return
    local = _local_folder(location.path(table))
    if local is not None:
        shutil.rmtree(local, ignore_errors=True)
        if os.path.exists(local):
            raise OSError(f"{local} is still there")
        return
    name = location.name(table)
    spark.sql(f"DELETE FROM {name}")
    spark.sql(f"VACUUM {name} RETAIN 0 HOURS")
    log.warning("the table %s was emptied but its folder remains: delete it", name)


def _list_by_logs(spark: Any, root: str, prefix: str) -> list[str]:
    """The table folders under `root` named `prefix*`, seen by the Spark Connect server: the folders of the
    Delta log files it finds (only the files' paths are read)."""
    from pyspark.errors import AnalysisException

    pattern = f"{root.rstrip('/')}/{prefix}*/_delta_log"
    try:
        rows = spark.read.format("binaryFile").option("pathGlobFilter", "*.json").load(pattern).select("path").collect()
    except AnalysisException:  # no folder matches
        return []
    names = {str(r.path).rstrip("/").split("/")[-3] for r in rows}
    return sorted(n for n in names if n.startswith(prefix))


def _local_folder(path: str) -> str | None:
    """The folder as this process sees it (a local path, `file:` URI or a mounted `/Volumes/...`); None when the
    client cannot reach it (a remote file system seen only by the Connect server)."""
    parsed = urlparse(path)
    if parsed.scheme in ("", "file"):
        local = parsed.path if parsed.scheme else path
        return local if os.path.isdir(local) or not os.path.exists(local) else None
    return None


def _fs(spark: Any, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    return hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hadoop_path
