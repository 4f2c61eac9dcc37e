"""Quiet logging, the log4j2 file, and the one-line Delta-jars hint: the decisions that need no JVM."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctc_spark.io.classpath import delta_hint, is_delta_missing, require_delta_classes
from ctc_spark.io.delta import DELTA_VERSION
from ctc_spark.io.logs import LOG4J2_CONF, configure_logging, log4j2_java_option


@pytest.fixture()
def clean_logging() -> Iterator[None]:
    root, ours = logging.getLogger(), logging.getLogger("ctc_spark")
    saved = (root.level, list(root.handlers), ours.level)
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    ours.setLevel(saved[2])


def test_our_loggers_at_info_and_everyone_elses_at_warning(clean_logging: None) -> None:
    configure_logging()
    assert logging.getLogger("ctc_spark.engine.run").isEnabledFor(logging.INFO)
    assert not logging.getLogger("ctc_spark.engine.run").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("py4j.clientserver").isEnabledFor(logging.INFO)
    assert logging.getLogger("py4j.clientserver").isEnabledFor(logging.WARNING)
    configure_logging(verbose=True)
    assert logging.getLogger("ctc_spark.engine.run").isEnabledFor(logging.DEBUG)


def test_the_log4j2_file_exists_and_quiets_sparks_start_up_warnings() -> None:
    text = LOG4J2_CONF.read_text()
    assert "org.apache.hadoop.util.NativeCodeLoader" in text and "org.apache.spark.util.Utils" in text
    assert "rootLogger.level = warn" in text
    assert log4j2_java_option() == f"-Dlog4j2.configurationFile={LOG4J2_CONF.as_uri()}"
    assert log4j2_java_option(Path("/nonexistent/log4j2.properties")) is None


def test_the_hint_names_both_jars_and_the_package_on_one_line() -> None:
    hint = delta_hint(DELTA_VERSION)
    assert "\n" not in hint
    assert f"--jars .jars/delta-spark_2.13-{DELTA_VERSION}.jar,.jars/delta-storage-{DELTA_VERSION}.jar" in hint
    assert f"--packages io.delta:delta-spark_2.13:{DELTA_VERSION}" in hint


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("java.lang.ClassNotFoundException: io.delta.sql.DeltaSparkSessionExtension", True),
        (
            "Cannot find catalog plugin class for catalog 'spark_catalog': org.apache.spark.sql.delta.catalog.DeltaCatalog",
            True,
        ),
        ("java.lang.NoClassDefFoundError: io/delta/tables/DeltaTable", True),
        ("java.lang.ClassNotFoundException: com.example.Other", False),
        ("[DELTA_TABLE_NOT_FOUND] io.delta.sql.DeltaSparkSessionExtension is configured", False),
    ],
)
def test_delta_missing_is_recognised_from_the_error_text(text: str, missing: bool) -> None:
    assert is_delta_missing(RuntimeError(text)) is missing


def test_no_running_jvm_means_nothing_to_check() -> None:
    # Outside spark-submit the session factory starts the JVM itself, with spark.jars on its classpath.
    assert require_delta_classes(DELTA_VERSION, env={}) is None
