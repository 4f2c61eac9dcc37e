"""Delta Lake's classes on the driver: a spark-submit without `--jars` fails here in one line, not a Java stack.

Under spark-submit the JVM is already running when the session factory builds its session, so the `spark.jars`
it sets reach the executors but not the driver's class loader: Spark then logs a ClassNotFoundException stack
for `io.delta.sql.DeltaSparkSessionExtension` and builds a session without Delta, whose tables cannot work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ctc_spark.errors import ConfigError
from ctc_spark.io.delta import DELTA_EXTENSION

__all__ = ["delta_hint", "is_delta_missing", "require_delta_classes"]

_DELTA_MARKERS = (
    DELTA_EXTENSION,
    "org.apache.spark.sql.delta.",
    "io.delta.",
    "io/delta/",
    "org/apache/spark/sql/delta/",
)
_MISSING_MARKERS = ("ClassNotFoundException", "NoClassDefFoundError", "Cannot find catalog plugin class")


def delta_hint(version: str) -> str:
    """One line naming the jars spark-submit needs."""
    return (
        f"Delta Lake is not on the driver's classpath: pass --jars .jars/delta-spark_2.13-{version}.jar,"
        f".jars/delta-storage-{version}.jar (from `make setup`) or --packages io.delta:delta-spark_2.13:{version} "
        "to spark-submit"
    )


def is_delta_missing(exc: BaseException) -> bool:
    """True when an exception (a Py4J or captured Spark error) says a Delta class could not be loaded."""
    text = str(exc)
    return any(m in text for m in _DELTA_MARKERS) and any(m in text for m in _MISSING_MARKERS)


def require_delta_classes(version: str, env: Mapping[str, str] | None = None) -> None:
    """Check, before a session is built, that a JVM that is already running can load Delta's extension.

    Does nothing when no JVM runs yet (the session factory then starts one with `spark.jars`).

    Raises:
        ConfigError: the running JVM (spark-submit's, or an existing session's) has no Delta classes.
    """
    from pyspark import SparkContext

    env = os.environ if env is None else env
    if SparkContext._gateway is None and not env.get("PYSPARK_GATEWAY_PORT"):
        return
    SparkContext._ensure_initialized()  # connects to spark-submit's JVM, as the session builder would
    jvm = SparkContext._jvm
    assert jvm is not None
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    try:
        jvm.java.lang.Class.forName(DELTA_EXTENSION, False, loader)
    except Exception as exc:
        if is_delta_missing(exc):
            raise ConfigError(delta_hint(version)) from None
        raise
