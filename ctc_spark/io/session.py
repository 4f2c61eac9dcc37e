"""The one SparkSession factory: Delta configured, local jars from `make setup`, Databricks left alone."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ctc_spark.config import SparkSettings
from ctc_spark.io.classpath import require_delta_classes
from ctc_spark.io.logs import log4j2_java_option

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DELTA_VERSION", "delta_jars", "get_spark", "is_databricks"]

log = logging.getLogger(__name__)

DELTA_VERSION = "4.0.1"
_DELTA_ARTIFACTS = (f"delta-spark_2.13-{DELTA_VERSION}.jar", f"delta-storage-{DELTA_VERSION}.jar")
_DEFAULT_JARS_DIR = Path(__file__).resolve().parents[2] / ".jars"


def is_databricks(env: Mapping[str, str] | None = None) -> bool:
    """True on a Databricks runtime, where the platform's session must be used as it is."""
    env = os.environ if env is None else env
    return bool(env.get("DATABRICKS_RUNTIME_VERSION"))


def delta_jars(jars_dir: str | Path | None = None) -> list[Path]:
    """The Delta jars fetched by `make setup`, or [] when they are not all there."""
    folder = Path(jars_dir) if jars_dir is not None else _DEFAULT_JARS_DIR
    found = [folder / name for name in _DELTA_ARTIFACTS]
    return found if all(p.is_file() for p in found) else []


def get_spark(
    settings: SparkSettings | None = None,
    *,
    testing: bool = False,
    jars_dir: str | Path | None = None,
) -> SparkSession:
    """Return the active SparkSession, or build one with Delta Lake's extension and catalog.

    An active session (or any session on Databricks) is returned untouched. Otherwise the Delta jars
    from `make setup` go in through `spark.jars`; if they are missing, Spark resolves
    `io.delta:delta-spark_2.13` itself through `spark.jars.packages` as a fallback.
    """
    from pyspark.sql import SparkSession

    if not is_databricks():
        require_delta_classes(DELTA_VERSION)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if is_databricks():
        return SparkSession.builder.getOrCreate()
    settings = settings or SparkSettings()
    builder = (
        SparkSession.builder.master(settings.master)
        .appName(settings.app_name)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Python workers use this interpreter (it has pyarrow and ctc_spark), not whatever `python3` is on PATH.
        .config("spark.pyspark.python", sys.executable)
        # Delta's default of 50 snapshot partitions makes every small ledger read run 50 tasks.
        .config("spark.databricks.delta.snapshotPartitions", "4")
    )
    jars = delta_jars(jars_dir)
    if jars:
        builder = builder.config("spark.jars", ",".join(str(p) for p in jars))
    else:
        log.warning("Delta jars not found under .jars/ (run `make setup`); resolving them with Ivy instead")
        builder = builder.config("spark.jars.packages", f"io.delta:delta-spark_2.13:{DELTA_VERSION}")
    if log4j2_java_option():
        builder = builder.config("spark.driver.extraJavaOptions", log4j2_java_option())
    if testing:
        builder = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.databricks.delta.snapshotPartitions", "2")
            .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", "2")
        )
    for key, value in settings.conf:
        builder = builder.config(key, value)
    return builder.getOrCreate()
