"""Quiet output: ctc-spark's own loggers at INFO, everyone else's at WARNING, and Spark's log4j2 settings file."""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["LOG4J2_CONF", "configure_logging", "log4j2_java_option"]

# Silences Spark's start-up warnings (native-hadoop, hostname); the CLI's session and the demo's spark-submit use it.
LOG4J2_CONF = Path(__file__).resolve().parents[2] / "conf" / "log4j2.properties"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(verbose: bool = False) -> None:
    """Log `ctc_spark.*` at INFO (DEBUG when verbose) and every other logger (py4j, httpx, azure) at WARNING."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format=_FORMAT)
    logging.getLogger().setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("ctc_spark").setLevel(logging.DEBUG if verbose else logging.INFO)


def log4j2_java_option(conf: Path = LOG4J2_CONF) -> str | None:
    """The JVM option that points log4j2 at `conf`, or None when the file is absent (an installed wheel)."""
    return f"-Dlog4j2.configurationFile={conf.as_uri()}" if conf.is_file() else None
