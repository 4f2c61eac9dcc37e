"""Databricks Connect: from a laptop, the driver engine runs on a Databricks cluster or serverless compute.

With the `databricks-connect` extra installed (it brings its own `pyspark`; never install it beside the `spark`
extra), a session is a `DatabricksSession` when `SPARK_REMOTE=sc://...` (or `[spark] remote`) names a server, or
when a Databricks profile or host is configured (`DATABRICKS_CONFIG_PROFILE`, `DATABRICKS_HOST`). Its sessions
are Spark Connect sessions, so `engine = auto` picks the driver engine. On a Databricks runtime the platform's
own session is used, and without the package the open-source Spark Connect client handles `sc://` URLs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ctc_spark.config import SparkSettings
from ctc_spark.io.connect import remote_url

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["ConnectChoice", "choose_databricks_connect", "databricks_connect_installed", "databricks_connect_session"]

log = logging.getLogger(__name__)

_PROFILE = "DATABRICKS_CONFIG_PROFILE"
_HOST = "DATABRICKS_HOST"


@dataclass(frozen=True)
class ConnectChoice:
    """How to build the `DatabricksSession`: a Spark Connect URL, a configuration profile, or the SDK's defaults."""

    how: Literal["url", "profile", "sdk"]
    value: str = ""


def databricks_connect_installed() -> bool:
    """True when `databricks.connect` can be imported (the `databricks-connect` extra)."""
    try:
        return importlib.util.find_spec("databricks.connect") is not None
    except ModuleNotFoundError:  # no `databricks` namespace package at all
        return False


def choose_databricks_connect(remote: str, env: Mapping[str, str], *, installed: bool) -> ConnectChoice | None:
    """Whether, and how, to use Databricks Connect; None leaves the session to the open-source factory.

    Args:
        remote: the Spark Connect URL chosen by `remote_url` (`SPARK_REMOTE`, `spark.remote`, `[spark] remote`).
        env: the environment (`DATABRICKS_RUNTIME_VERSION`, `DATABRICKS_CONFIG_PROFILE`, `DATABRICKS_HOST`).
        installed: whether `databricks-connect` is importable.
    """
    if env.get("DATABRICKS_RUNTIME_VERSION") or not installed:
        return None
    if remote.startswith("sc://"):
        return ConnectChoice("url", remote)
    if remote:
        return None  # local[N] starts an open-source server in this process; Databricks Connect cannot
    if env.get(_PROFILE):
        return ConnectChoice("profile", env[_PROFILE])
    if env.get(_HOST):
        return ConnectChoice("sdk")
    return None


def databricks_connect_session(
    settings: SparkSettings | None = None, env: Mapping[str, str] | None = None
) -> SparkSession | None:
    """A `DatabricksSession` when `choose_databricks_connect` picks one, else None."""
    env = os.environ if env is None else env
    settings = settings or SparkSettings()
    choice = choose_databricks_connect(
        remote_url(settings.remote, settings.conf, env), env, installed=databricks_connect_installed()
    )
    if choice is None:
        return None
    from databricks.connect import DatabricksSession

    builder: Any = DatabricksSession.builder
    if choice.how == "url":
        builder = builder.remote(choice.value)
    elif choice.how == "profile":
        builder = builder.profile(choice.value)
    log.info("using Databricks Connect (%s%s)", choice.how, f" {choice.value}" if choice.how == "profile" else "")
    session: SparkSession = builder.getOrCreate()
    return session
