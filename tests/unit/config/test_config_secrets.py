"""Secrets named as `scope/key`, resolved through a stand-in for Databricks' dbutils, never shown."""

from __future__ import annotations

import logging
import pickle
import sys
import types
from pathlib import Path

import pytest

from ctc_spark.config import ENV_ENDPOINT, ENV_KEY, ENV_KEY_SECRET, ENV_STORAGE_SECRET, Secret, load_settings
from ctc_spark.config.secrets import databricks_secret
from ctc_spark.errors import ConfigError

VALUE = "s3cr3t-language-key-value"
CONN = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=s3cr3t-account-key;EndpointSuffix=x"
REMOTE = "https://res.cognitiveservices.azure.com"


class _Secrets:
    """Stand-in for `dbutils.secrets`: a dict of (scope, key) -> value, recording what was read."""

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self.values, self.reads = values, []  # type: ignore[var-annotated]

    def get(self, scope: str, key: str) -> str:
        self.reads.append((scope, key))
        if (scope, key) not in self.values:
            raise ValueError(f"Secret does not exist with scope: {scope} and key: {key}")
        return self.values[(scope, key)]


@pytest.fixture
def dbutils(monkeypatch: pytest.MonkeyPatch) -> _Secrets:
    secrets = _Secrets({("ctc", "language-key"): VALUE, ("ctc", "storage"): CONN})
    runtime = types.ModuleType("databricks.sdk.runtime")
    runtime.dbutils = types.SimpleNamespace(secrets=secrets)  # type: ignore[attr-defined]
    for name in ("databricks", "databricks.sdk"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "databricks.sdk.runtime", runtime)
    return secrets


def _never_shown(*texts: str) -> None:
    for text in texts:
        assert VALUE not in text and "s3cr3t-account-key" not in text


def test_environment_secret_names_resolve_through_dbutils(dbutils: _Secrets, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = {ENV_ENDPOINT: REMOTE, ENV_KEY_SECRET: "ctc/language-key", ENV_STORAGE_SECRET: "ctc/storage"}
    settings = load_settings(Path(__file__).parents[3] / "conf" / "azure.toml", env=env)
    assert settings.service.primary.key == Secret(VALUE)
    assert settings.storage.connection_string == Secret(CONN)
    assert dbutils.reads == [("ctc", "language-key"), ("ctc", "storage")]
    assert "ctc/language-key" in caplog.text  # the name is logged, the value never
    _never_shown(caplog.text, repr(settings), str(settings), repr(pickle.loads(pickle.dumps(settings))))


def test_file_secret_names_resolve_through_an_injected_resolver(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        f'[service]\nendpoint = "{REMOTE}"\nkey_secret = "scope/lang"\n'
        '[storage]\nconnection_string_secret = "scope/blob"\n'
    )
    values = {("scope", "lang"): VALUE, ("scope", "blob"): CONN}
    settings = load_settings(path, env={}, secret_resolver=lambda scope, key: values[(scope, key)])
    assert settings.service.primary.key == Secret(VALUE)
    assert settings.storage.connection_string == Secret(CONN)


def test_a_failed_read_names_the_secret_but_never_the_message(dbutils: _Secrets) -> None:
    def leaky(scope: str, key: str) -> str:
        raise RuntimeError(f"backend said {VALUE}")

    with pytest.raises(ConfigError) as info:
        load_settings(env={ENV_ENDPOINT: REMOTE, ENV_KEY_SECRET: "ctc/lang"}, secret_resolver=leaky)
    assert info.value.key == ENV_KEY_SECRET and "ctc/lang" in str(info.value) and "RuntimeError" in str(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is not None  # suppressed, not chained
    _never_shown(str(info.value), repr(info.value), repr(pickle.loads(pickle.dumps(info.value))))
    with pytest.raises(ConfigError, match="ctc/missing"):
        load_settings(env={ENV_ENDPOINT: REMOTE, ENV_KEY_SECRET: "ctc/missing"})


@pytest.mark.parametrize("name", ["no-slash", "/key", "scope/"])
def test_malformed_secret_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="scope/key") as info:
        load_settings(env={ENV_ENDPOINT: REMOTE, ENV_KEY_SECRET: name}, secret_resolver=lambda s, k: VALUE)
    assert info.value.key == ENV_KEY_SECRET


def test_a_value_and_a_secret_name_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="not both"):
        load_settings(env={ENV_ENDPOINT: REMOTE, ENV_KEY: "k", ENV_KEY_SECRET: "a/b"}, secret_resolver=lambda s, k: "v")


def test_off_databricks_the_default_resolver_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "databricks.sdk.runtime", None)  # importing it raises ImportError
    with pytest.raises(ConfigError, match="resolved on Databricks only"):
        databricks_secret("ctc", "language-key")
