"""Spark Connect: telling a Connect session from a classic one, guarded conf reads, and a local Connect session.

Under Spark Connect (Databricks serverless and standard access mode, `SPARK_REMOTE`) there is no
`sparkContext`, RDD or JVM handle, and on serverless `spark.conf.get(key, default)` may raise
`CONFIG_NOT_AVAILABLE` instead of returning the default. Code that must run there asks `is_connect` first and
reads settings with `conf_get`.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctc_spark.io.delta import delta_conf, testing_conf

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["conf_get", "connect_session", "is_connect", "is_local_master", "remote_url"]

log = logging.getLogger(__name__)


def is_connect(spark: Any) -> bool:
    """True for a Spark Connect session (local, Databricks serverless or standard access mode)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def is_local_master(spark: Any) -> bool:
    """True for a classic session on a local master (`local`, `local[N]`, `local[N, F]`; not `local-cluster`,
    whose executors are processes): its one executor is the driver's own JVM, so an executor is never lost
    without the driver."""
    master = str(getattr(getattr(spark, "sparkContext", None), "master", "") or "") if not is_connect(spark) else ""
    return master == "local" or master.startswith("local[")


def conf_get(spark: Any, key: str, default: str | None = None) -> str | None:
    """`spark.conf.get(key, default)`, returning `default` where Connect refuses to read the key."""
    try:
        value = spark.conf.get(key, default)
    except Exception as exc:  # CONFIG_NOT_AVAILABLE on serverless, SparkConnectGrpcException for unknown keys
        log.debug("spark conf %s is not readable here (%s); using %r", key, type(exc).__name__, default)
        return default
    return None if value is None else str(value)


def remote_url(configured: str, conf: Sequence[tuple[str, str]] = (), env: Mapping[str, str] | None = None) -> str:
    """The Spark Connect URL to use, or "": `SPARK_REMOTE`, then a `spark.remote` conf pair, then `[spark] remote`."""
    env = os.environ if env is None else env
    from_conf = next((v for k, v in conf if k == "spark.remote"), "")
    return (env.get("SPARK_REMOTE") or from_conf or configured or "").strip()


def connect_session(
    url: str,
    *,
    app_name: str,
    conf: Sequence[tuple[str, str]],
    jars: Sequence[Path],
    testing: bool = False,
) -> SparkSession:
    """A Spark Connect session to `url`; `local[N]` starts a Connect server in this process with Delta in it.

    For `sc://...` the server is configured already (Delta included); only the app name is sent. For a local
    server the Delta jars and extension go into the server's configuration, as for a classic session.
    """
    from pyspark.sql import SparkSession

    builder: Any = SparkSession.builder.remote(url).appName(app_name)
    if url.startswith("local"):
        # The local server's Python workers take PYSPARK_PYTHON, not spark.pyspark.python: this interpreter.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        server = delta_conf(jars)
        if not jars:
            log.warning("Delta jars not found under .jars/ (run `make setup`); resolving them with Ivy instead")
        if testing:
            server.update(testing_conf())
        server.update({k: v for k, v in conf if k != "spark.remote"})
        for key, value in server.items():
            builder = builder.config(key, value)
    with warnings.catch_warnings():
        # pyspark re-sends the server's static settings to the new session and warns that it cannot: harmless.
        warnings.filterwarnings("ignore", message="Failed to set spark", category=UserWarning)
        session: SparkSession = builder.getOrCreate()
    return session
