"""The one SparkSession factory: Delta configured, local jars from `make setup`, Databricks left alone.

Precedence, highest first: what the launcher set (spark-submit flags, `spark-defaults.conf`, an active
SparkContext) > the config file (`[spark] master`, `[spark.conf]`) > built-in defaults (`local[*]`, Delta).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctc_spark.config import SparkSettings
from ctc_spark.io.classpath import require_delta_classes
from ctc_spark.io.connect import connect_session, is_connect, remote_url
from ctc_spark.io.delta import DELTA_VERSION, delta_conf, delta_jars, testing_conf
from ctc_spark.io.logs import log4j2_java_option

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "LOCAL_MASTER",
    "SCHEDULER_POOLS",
    "get_spark",
    "is_databricks",
    "launcher_conf",
    "local_cores",
    "parse_spark_defaults",
    "parse_submit_args",
    "session_conf",
    "use_pool",
]

log = logging.getLogger(__name__)

LOCAL_MASTER = "local[*]"
_SNAPSHOT_PARTITIONS = "spark.databricks.delta.snapshotPartitions"
# The FAIR scheduler's pools for the sessions ctc-spark builds: the run lease's pool has a minimum share.
SCHEDULER_POOLS = Path(__file__).resolve().with_name("fairscheduler.xml")
_SUBMIT_FLAGS = {
    "--master": "spark.master",
    "--name": "spark.app.name",
    "--jars": "spark.jars",
    "--packages": "spark.jars.packages",
}


def is_databricks(env: Mapping[str, str] | None = None) -> bool:
    """True on a Databricks runtime, where the platform's session must be used as it is."""
    env = os.environ if env is None else env
    return bool(env.get("DATABRICKS_RUNTIME_VERSION"))


def launcher_conf(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the launcher already set: an active SparkContext's conf, spark-submit's, or `spark-defaults.conf`.

    Under spark-submit (or the pyspark shell) the JVM exists and `SparkConf()` holds every `--master`/`--conf`
    flag and `spark-defaults.conf` entry. Run directly, no JVM is started here (the session's own launch must
    carry the Delta jars): `spark-defaults.conf` and `PYSPARK_SUBMIT_ARGS` are read instead.
    """
    from pyspark import SparkConf, SparkContext

    env = os.environ if env is None else env
    active = SparkContext._active_spark_context
    if active is not None:
        return dict(active.getConf().getAll())
    if env.get("PYSPARK_GATEWAY_PORT") or SparkContext._gateway is not None:
        SparkContext._ensure_initialized()  # connects to the launcher's JVM; SparkConf() reads it from there
        return dict(SparkConf().getAll())
    found = parse_spark_defaults(_defaults_file(env))
    found.update(parse_submit_args(env.get("PYSPARK_SUBMIT_ARGS", "")))
    return found


def parse_spark_defaults(path: Path | None) -> dict[str, str]:
    """The `spark.*` entries of a `spark-defaults.conf` (`key value` or `key=value`); {} without the file."""
    if path is None or not path.is_file():
        return {}
    found: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s*=\s*|\s+", line, maxsplit=1)
        if parts[0].startswith("spark.") and len(parts) == 2:
            found[parts[0]] = parts[1].strip()
    return found


def parse_submit_args(args: str) -> dict[str, str]:
    """The settings in `PYSPARK_SUBMIT_ARGS`: `--master`, `--name`, `--jars`, `--packages` and `--conf k=v`."""
    words = shlex.split(args)
    found: dict[str, str] = {}
    for i, word in enumerate(words):
        flag, eq, inline = word.partition("=")
        value = inline if eq else (words[i + 1] if i + 1 < len(words) else "")
        if flag in _SUBMIT_FLAGS and value:
            found[_SUBMIT_FLAGS[flag]] = value
        elif word in ("--conf", "-c") and "=" in value:
            key, _, conf_value = value.partition("=")
            found[key] = conf_value
    return found


def session_conf(launcher: Mapping[str, str], settings: SparkSettings, defaults: Mapping[str, str]) -> dict[str, str]:
    """What the builder sets: built-in defaults, overridden by the config file, minus all the launcher set.

    The master is the launcher's, else `[spark] master`, else `local[*]`.
    """
    wanted = dict(defaults)
    wanted["spark.master"] = settings.master or LOCAL_MASTER
    wanted["spark.app.name"] = settings.app_name
    wanted.update(settings.conf)
    if launcher.get("spark.jars") or launcher.get("spark.jars.packages"):
        # The launcher brought its own jars (`--jars` or `--packages io.delta:...`): ours would add a second copy.
        wanted.pop("spark.jars", None)
        wanted.pop("spark.jars.packages", None)
    master = launcher.get("spark.master") or wanted["spark.master"]
    if not master.startswith("local"):
        wanted.pop("spark.pyspark.python", None)  # this interpreter's path means nothing on the workers
    cores = local_cores(master, os.cpu_count() or 1)
    if cores is not None and _SNAPSHOT_PARTITIONS not in dict(settings.conf):
        # One task a core: on a local master more snapshot partitions only queue (each ledger read after a commit
        # rebuilds the table's state, a shuffle into this many partitions).
        wanted[_SNAPSHOT_PARTITIONS] = str(min(cores, int(wanted.get(_SNAPSHOT_PARTITIONS, cores))))
    return {k: v for k, v in wanted.items() if k not in launcher}


def local_cores(master: str, cpus: int) -> int | None:
    """The task slots of a local master (`local` 1, `local[N]` N, `local[*]` `cpus`, `local[N, F]` N); None for
    any other master (`local-cluster` included: its executors are processes)."""
    if master == "local":
        return 1
    found = re.fullmatch(r"local\[\s*(\*|\d+)\s*(?:,\s*\d+\s*)?\]", master)
    if found is None:
        return None
    return cpus if found.group(1) == "*" else max(1, int(found.group(1)))


def _defaults_file(env: Mapping[str, str]) -> Path | None:
    if env.get("SPARK_CONF_DIR"):
        return Path(env["SPARK_CONF_DIR"]) / "spark-defaults.conf"
    if env.get("SPARK_HOME"):
        return Path(env["SPARK_HOME"]) / "conf" / "spark-defaults.conf"
    import pyspark

    return Path(pyspark.__file__).parent / "conf" / "spark-defaults.conf"  # the pip package is its own home


def _builtin_defaults(*, testing: bool, jars_dir: str | Path | None) -> dict[str, str]:
    defaults = delta_conf(delta_jars(jars_dir))
    # FAIR between pools: the run lease's renewals (`use_pool`) get the next free task slot instead of queueing
    # behind every task of a long planning stage (FIFO), which on a busy session outlasted the lease's deadline.
    defaults["spark.scheduler.mode"] = "FAIR"
    defaults["spark.scheduler.allocation.file"] = str(SCHEDULER_POOLS)  # the lease's pool and its minimum share
    quiet = log4j2_java_option()  # our log4j2 file, when the checkout has one
    if quiet:
        defaults["spark.driver.extraJavaOptions"] = quiet
    if testing:
        defaults.update(testing_conf())
    return defaults


def use_pool(spark: Any, pool: str) -> None:
    """Run the Spark jobs this thread starts in the scheduler pool `pool` (created on first use). Under the
    FAIR scheduler (ctc-spark's default, Databricks') its jobs share the task slots with other pools' instead of
    waiting for them; a no-op under Spark Connect, whose server schedules."""
    if is_connect(spark):
        return
    spark.sparkContext.setLocalProperty("spark.scheduler.pool", pool)


def get_spark(
    settings: SparkSettings | None = None,
    *,
    testing: bool = False,
    jars_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> SparkSession:
    """Return the active SparkSession, or build one with Delta Lake's extension and catalog.

    An active session (or any session on Databricks) is returned untouched. Otherwise what the launcher set
    wins, the config file fills what it left unset, and built-in defaults the rest (see `session_conf`). The
    Delta jars from `make setup` go in through `spark.jars`; if they are missing, Spark resolves
    `io.delta:delta-spark_2.13` itself through `spark.jars.packages` as a fallback.

    Args:
        settings: the master, app name and `[spark.conf]` pairs (default: `SparkSettings()`).
        testing: a small local session for tests.
        jars_dir: where the Delta jars are (default: the checkout's `.jars/`).

    Returns:
        The SparkSession.
    """
    from pyspark.sql import SparkSession

    from ctc_spark.io.databricks import databricks_connect_session

    connected = databricks_connect_session(settings, env)  # None unless databricks-connect is installed and asked for
    if connected is not None:
        return connected
    if not is_databricks(env):
        require_delta_classes(DELTA_VERSION)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if is_databricks(env):
        return SparkSession.builder.getOrCreate()
    settings = settings or SparkSettings()
    remote = remote_url(settings.remote, settings.conf, env)
    if remote:
        return _remote_session(settings, remote, testing=testing, jars_dir=jars_dir)
    launcher = launcher_conf(env)
    chosen = session_conf(launcher, settings, _builtin_defaults(testing=testing, jars_dir=jars_dir))
    if "spark.jars.packages" in chosen and "spark.jars" not in launcher:
        log.warning("Delta jars not found under .jars/ (run `make setup`); resolving them with Ivy instead")
    if "spark.master" not in chosen:
        log.info("master %s set by the launcher; the config file's [spark] master is ignored", launcher["spark.master"])
    builder = SparkSession.builder
    for key, value in chosen.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _remote_session(settings: SparkSettings, url: str, *, testing: bool, jars_dir: str | Path | None) -> SparkSession:
    """A Spark Connect session (`SPARK_REMOTE`, `spark.remote` or `[spark] remote`); `local[N]` runs the server here."""
    log.info("using Spark Connect at %s", url)
    return connect_session(
        url, app_name=settings.app_name, conf=settings.conf, jars=delta_jars(jars_dir), testing=testing
    )
