"""Choosing Databricks Connect: `DatabricksSession` for `sc://` or a Databricks profile when the package is there,
the open-source factory otherwise, the platform's session on a Databricks runtime."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from ctc_spark.config import SparkSettings
from ctc_spark.io.databricks import ConnectChoice, choose_databricks_connect, databricks_connect_session

URL = "sc://localhost:15002"


@pytest.mark.parametrize(
    ("remote", "env", "installed", "expected"),
    [
        (URL, {}, True, ConnectChoice("url", URL)),
        (URL, {}, False, None),  # the open-source client handles sc:// itself
        (URL, {"DATABRICKS_RUNTIME_VERSION": "17.3"}, True, None),  # on Databricks: the platform's session
        ("local[2]", {}, True, None),  # a local server runs in this process: open-source Spark only
        ("", {"DATABRICKS_CONFIG_PROFILE": "team"}, True, ConnectChoice("profile", "team")),
        ("", {"DATABRICKS_HOST": "https://adb-1.azuredatabricks.net"}, True, ConnectChoice("sdk")),
        ("", {"DATABRICKS_CONFIG_PROFILE": "team"}, False, None),
        ("", {}, True, None),  # nothing asked for: a classic local session
        (URL, {"DATABRICKS_CONFIG_PROFILE": "team"}, True, ConnectChoice("url", URL)),  # the URL is explicit
    ],
)
def test_the_choice(remote: str, env: dict[str, str], installed: bool, expected: ConnectChoice | None) -> None:
    assert choose_databricks_connect(remote, env, installed=installed) == expected


class _Builder:
    """Stand-in for `DatabricksSession.builder`, recording the calls."""

    calls: list[tuple[str, Any]] = []

    def remote(self, url: str) -> _Builder:
        self.calls.append(("remote", url))
        return self

    def profile(self, name: str) -> _Builder:
        self.calls.append(("profile", name))
        return self

    def getOrCreate(self) -> str:
        self.calls.append(("getOrCreate", None))
        return "a DatabricksSession"


@pytest.fixture
def databricks_connect(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    connect = types.ModuleType("databricks.connect")
    connect.DatabricksSession = types.SimpleNamespace(builder=_Builder())  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "databricks.connect", connect)
    monkeypatch.setattr("ctc_spark.io.databricks.databricks_connect_installed", lambda: True)
    monkeypatch.setattr(_Builder, "calls", [])
    return _Builder.calls


def test_spark_remote_builds_a_databricks_session(databricks_connect: list[tuple[str, Any]]) -> None:
    session = databricks_connect_session(SparkSettings(), env={"SPARK_REMOTE": URL})
    assert session == "a DatabricksSession"
    assert databricks_connect == [("remote", URL), ("getOrCreate", None)]


def test_the_settings_file_remote_and_a_profile(databricks_connect: list[tuple[str, Any]]) -> None:
    assert databricks_connect_session(SparkSettings(remote=URL), env={}) is not None
    assert databricks_connect_session(SparkSettings(), env={"DATABRICKS_CONFIG_PROFILE": "team"}) is not None
    assert databricks_connect == [("remote", URL), ("getOrCreate", None), ("profile", "team"), ("getOrCreate", None)]


def test_get_spark_returns_the_databricks_session_before_any_local_setup(
    databricks_connect: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pyspark", reason="get_spark imports pyspark (the spark extra)")
    import ctc_spark.io.session as session

    def no_local_checks(*_: object, **__: object) -> None:
        raise AssertionError("a local Delta check ran for a Databricks Connect session")

    monkeypatch.setattr(session, "require_delta_classes", no_local_checks)
    assert session.get_spark(SparkSettings(), env={"SPARK_REMOTE": URL}) == "a DatabricksSession"


def test_without_the_package_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ctc_spark.io.databricks.databricks_connect_installed", lambda: False)
    assert databricks_connect_session(SparkSettings(), env={"SPARK_REMOTE": URL}) is None
