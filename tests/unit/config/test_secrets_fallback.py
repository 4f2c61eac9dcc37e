"""On Spark Connect runtimes `databricks.sdk.runtime` may fail with a non-ImportError: secrets then come from the
workspace API (`WorkspaceClient().secrets.get_secret`), and every failure names the scope and key, never the value.

Both sides are faked at the import boundary (`sys.modules` and the import system), as on a cluster they are the
installed `databricks-sdk`.
"""

from __future__ import annotations

import base64
import importlib.abc
import pickle
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from ctc_spark.config import ENV_ENDPOINT, ENV_KEY_SECRET, Secret, load_settings
from ctc_spark.config.secrets import databricks_secret
from ctc_spark.errors import ConfigError

VALUE = "s3cr3t-from-the-workspace-api"
REMOTE = "https://res.cognitiveservices.azure.com"


class PySparkRuntimeError(RuntimeError):
    """Stands in for pyspark.errors.PySparkRuntimeError, which older SDKs raise on Connect runtimes."""


class _RefuseImport(importlib.abc.MetaPathFinder):
    """Makes `import databricks.sdk.runtime` itself raise, as it does where the runtime helper cannot start."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None) -> Any:
        if fullname == "databricks.sdk.runtime":
            raise PySparkRuntimeError("[ONLY_SUPPORTED_WITH_SPARK_CONNECT] dbutils is not available here")
        return None


class _Workspace:
    """Stand-in for `WorkspaceClient`: `secrets.get_secret` returns the base64-encoded value, as the API does."""

    reads: list[tuple[str, str]] = []
    fail: Exception | None = None

    def __init__(self) -> None:
        self.secrets = types.SimpleNamespace(get_secret=self._get_secret)

    def _get_secret(self, scope: str, key: str) -> Any:
        _Workspace.reads.append((scope, key))
        if _Workspace.fail is not None:
            raise _Workspace.fail
        return types.SimpleNamespace(key=key, value=base64.b64encode(VALUE.encode()).decode())


def _runtime_whose_dbutils_raises() -> types.ModuleType:
    runtime = types.ModuleType("databricks.sdk.runtime")

    def __getattr__(name: str) -> Any:
        raise PySparkRuntimeError(f"cannot create {name} on this compute")

    runtime.__getattr__ = __getattr__  # type: ignore[method-assign]
    return runtime


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch) -> type[_Workspace]:
    sdk = types.ModuleType("databricks.sdk")
    sdk.WorkspaceClient = _Workspace  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "databricks", types.ModuleType("databricks"))
    monkeypatch.setitem(sys.modules, "databricks.sdk", sdk)
    monkeypatch.setattr(_Workspace, "reads", [])
    monkeypatch.setattr(_Workspace, "fail", None)
    return _Workspace


def _helper_raises_on_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "databricks.sdk.runtime", _runtime_whose_dbutils_raises())


def _helper_raises_on_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "databricks.sdk.runtime", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_RefuseImport(), *sys.meta_path])


HELPERS: list[Callable[[pytest.MonkeyPatch], None]] = [_helper_raises_on_use, _helper_raises_on_import]


@pytest.mark.parametrize("helper", HELPERS, ids=["on-use", "on-import"])
def test_a_non_import_error_from_the_runtime_helper_falls_back_to_the_workspace_client(
    helper: Callable[[pytest.MonkeyPatch], None], workspace: type[_Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    helper(monkeypatch)
    assert databricks_secret("ctc", "language-key") == VALUE
    assert workspace.reads == [("ctc", "language-key")]


def test_the_loader_resolves_a_named_key_through_the_fallback(
    workspace: type[_Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    _helper_raises_on_use(monkeypatch)
    settings = load_settings(env={ENV_ENDPOINT: REMOTE, ENV_KEY_SECRET: "ctc/language-key"})
    assert settings.service.primary.key == Secret(VALUE)
    assert VALUE not in repr(settings) and VALUE not in repr(pickle.loads(pickle.dumps(settings)))


def test_when_both_fail_the_error_names_scope_and_key_and_both_failures_but_never_the_value(
    workspace: type[_Workspace], monkeypatch: pytest.MonkeyPatch
) -> None:
    _helper_raises_on_use(monkeypatch)
    workspace.fail = PermissionError(f"no READ on scope ctc; the value was {VALUE}")
    with pytest.raises(ConfigError) as info:
        load_settings(env={ENV_ENDPOINT: REMOTE, ENV_KEY_SECRET: "ctc/language-key"})
    text = str(info.value)
    assert "'ctc/language-key'" in text
    assert "PySparkRuntimeError" in text and "PermissionError" in text
    for shown in (text, repr(info.value), repr(pickle.loads(pickle.dumps(info.value)))):
        assert VALUE not in shown
    assert info.value.__cause__ is None  # the SDK's exception (and its message) is not chained


def test_without_databricks_sdk_the_error_says_where_secret_names_work(monkeypatch: pytest.MonkeyPatch) -> None:
    _helper_raises_on_use(monkeypatch)
    monkeypatch.setitem(sys.modules, "databricks.sdk", None)  # importing it raises ImportError
    with pytest.raises(ConfigError, match=r"secret 'ctc/language-key'.*resolved on Databricks only"):
        databricks_secret("ctc", "language-key")
