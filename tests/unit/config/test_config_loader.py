"""Settings: TOML + environment precedence, errors that name the key and file, secrets hidden."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ctc_spark.config import (
    ENV_ENDPOINT,
    ENV_KEY,
    ENV_STORAGE,
    BatchSettings,
    EngineSettings,
    Secret,
    default_config_path,
    is_loopback_url,
    load_settings,
    loader,
)
from ctc_spark.config.schema import options
from ctc_spark.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_committed_local_config_loads_and_points_at_loopback() -> None:
    settings = load_settings(REPO / "conf" / "local.toml", env={})
    assert is_loopback_url(settings.service.primary.endpoint)
    assert settings.service.primary.key is not None
    assert settings.batch.max_docs_per_request == 25
    assert settings.batch.max_chars_per_request == 125_000
    assert ("spark.sql.shuffle.partitions", "8") in settings.spark.conf


def test_azure_template_needs_the_key_from_the_environment() -> None:
    template = REPO / "conf" / "azure.toml"
    with pytest.raises(ConfigError, match=r"AZURE_LANGUAGE_KEY.*service.key.*azure.toml"):
        load_settings(template, env={})
    env = {ENV_ENDPOINT: "https://res.cognitiveservices.azure.com/", ENV_KEY: "k-123", ENV_STORAGE: "conn"}
    settings = load_settings(template, env=env)
    assert settings.service.primary.endpoint == "https://res.cognitiveservices.azure.com"
    assert settings.service.primary.key == Secret("k-123")
    assert settings.storage.connection_string == Secret("conn")


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[service]\nendpoint = "http://127.0.0.1:1"\nkey = "file-key"\n')
    settings = load_settings(path, env={ENV_ENDPOINT: "http://localhost:9", ENV_KEY: "env-key"})
    assert settings.service.primary.endpoint == "http://localhost:9"
    assert settings.service.primary.key.reveal() == "env-key"  # type: ignore[union-attr]


def test_secret_in_a_file_for_a_remote_endpoint_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, '[service]\nendpoint = "https://x.cognitiveservices.azure.com"\nkey = "leaked"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert "service.key" in str(info.value) and str(path) in str(info.value)
    assert "leaked" not in str(info.value)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (
            '[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\ntimeout_seconds = "soon"\n',
            "service.timeout_seconds",
        ),
        ('[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\nmax_attempts = 0\n', "service.max_attempts"),
        (
            '[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\n[batch]\nmax_docs_per_request = 26\n',
            "batch.max_docs_per_request",
        ),
        ('[service]\nendpoint = "ftp://127.0.0.1"\nkey = "k"\n', "service.endpoint"),
        ("[service]\n", "service.endpoint"),
    ],
)
def test_invalid_values_name_the_key_and_the_file(tmp_path: Path, body: str, key: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    assert info.value.key == key
    assert str(path) in str(info.value)


def test_missing_and_malformed_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(_write(tmp_path, "[service\n"), env={})


def test_several_resources_take_keys_from_named_variables(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "[[service.resources]]\nname = 'a'\nendpoint = 'https://a.example'\nkey_env = 'KEY_A'\ncalls_per_minute = 600\n"
        "[[service.resources]]\nname = 'b'\nendpoint = 'https://b.example'\nkey_env = 'KEY_B'\n",
    )
    settings = load_settings(path, env={"KEY_A": "ka", "KEY_B": "kb"})
    assert [(r.name, r.calls_per_minute) for r in settings.service.resources] == [("a", 600), ("b", 1000)]
    assert [r.burst_calls for r in settings.service.resources] == [0, 0]
    assert [r.key.reveal() for r in settings.service.resources if r.key] == ["ka", "kb"]


def test_settings_pickle_and_never_show_secrets() -> None:
    settings = load_settings(REPO / "conf" / "local.toml", env={ENV_KEY: "super-secret-key"})
    clone = pickle.loads(pickle.dumps(settings))
    assert clone == settings
    text = repr(settings) + str(settings.service.primary.key)
    assert "super-secret-key" not in text
    assert "AccountKey" not in text
    assert "********" in text


def test_without_a_file_defaults_and_the_environment_are_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As installed from a wheel: no CTC_SPARK_CONFIG, no conf/local.toml next to the package.
    monkeypatch.setattr(loader, "_REPO_CONF", tmp_path / "missing" / "local.toml")
    env = {ENV_ENDPOINT: "https://res.cognitiveservices.azure.com", ENV_KEY: "k-1", ENV_STORAGE: "conn"}
    settings = load_settings(env=env)
    assert settings.source == loader.BUILTIN
    assert settings.service.primary.endpoint == "https://res.cognitiveservices.azure.com"
    assert settings.service.primary.key == Secret("k-1")
    assert settings.storage.connection_string == Secret("conn")
    assert settings.engine == EngineSettings() and settings.batch == BatchSettings()
    with pytest.raises(ConfigError, match=r"AZURE_LANGUAGE_ENDPOINT.*<built-in defaults>"):
        load_settings(env={ENV_KEY: "k-1"})


def test_the_checkout_default_is_conf_local_toml() -> None:
    assert default_config_path({}) == REPO / "conf" / "local.toml"
    assert default_config_path({"CTC_SPARK_CONFIG": "/x/y.toml"}) == Path("/x/y.toml")


def test_ctc_spark_variables_override_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, '[service]\nendpoint = "http://127.0.0.1:1"\nkey = "k"\ncalls_per_minute = 5\n')
    env = {
        "CTC_SPARK_SERVICE_CALLS_PER_MINUTE": "600",
        "CTC_SPARK_SERVICE_USE_ENTRA_ID": "true",
        "CTC_SPARK_ENGINE_MAX_UNCOMMITTED_JOBS": "64",
        "CTC_SPARK_ENGINE_ENGINE": "driver",
        "CTC_SPARK_BATCH_MAX_DOCS_PER_REQUEST": "10",
        "CTC_SPARK_SERVICE_TIMEOUT_SECONDS": "2.5",
        "CTC_SPARK_SPARK_MASTER": "local[2]",
    }
    settings = load_settings(path, env=env)
    assert settings.service.primary.calls_per_minute == 600
    assert settings.service.use_entra_id is True
    assert settings.engine.max_uncommitted_jobs == 64 and settings.engine.engine == "driver"
    assert settings.batch.max_docs_per_request == 10
    assert settings.service.timeout_seconds == 2.5
    assert settings.spark.master == "local[2]"


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("CTC_SPARK_SERVICE_CALLS_PER_MINUTE", "many", "expected int"),
        ("CTC_SPARK_SERVICE_CALLS_PER_MINUTE", "0", "must be > 0"),
        ("CTC_SPARK_BATCH_MAX_DOCS_PER_REQUEST", "26", "must be <= 25"),
        ("CTC_SPARK_SERVICE_USE_ENTRA_ID", "maybe", "expected true or false"),
        ("CTC_SPARK_ENGINE_ENGINE", "gpu", "must be one of auto, driver, executors"),
    ],
)
def test_bad_variables_are_named(var: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(REPO / "conf" / "local.toml", env={var: value})
    assert info.value.key == var
    assert "the environment" in str(info.value)


def test_an_unknown_variable_is_warned_about_with_the_closest_name() -> None:
    with pytest.warns(UserWarning, match=r"CTC_SPARK_SERVICE_CALS_PER_MINUTE.*did you mean CTC_SPARK_SERVICE_CALLS"):
        load_settings(REPO / "conf" / "local.toml", env={"CTC_SPARK_SERVICE_CALS_PER_MINUTE": "5"})


def test_every_option_has_a_variable_except_the_secrets() -> None:
    for option in options():
        assert (option.env_var is None) == (
            option.secret or option.key in {"endpoint", "key_env", "key_secret", "connection_string_secret"}
        ), option


def test_a_resource_burst_is_read_and_a_negative_one_named(tmp_path: Path) -> None:
    from ctc_spark.emulator import EmulatorConfig

    local = load_settings(REPO / "conf" / "local.toml", env={})
    emulator = EmulatorConfig(calls_per_minute=local.emulator.calls_per_minute)
    assert emulator.calls_per_minute is not None
    # The embedded emulator's bucket holds `burst_seconds` of its quota; conf/local.toml says how many calls.
    assert local.service.primary.burst_calls == int(emulator.calls_per_minute * emulator.burst_seconds / 60) == 166
    path = _write(
        tmp_path,
        "[[service.resources]]\nname = 'a'\nendpoint = 'https://a.example'\nkey_env = 'K'\nburst_calls = 50\n",
    )
    assert load_settings(path, env={"K": "k"}).service.primary.burst_calls == 50
    bad = _write(tmp_path, '[service]\nendpoint = "https://a.example"\nburst_calls = -1\n')
    with pytest.raises(ConfigError, match=r"service\.burst_calls"):
        load_settings(bad, env={ENV_KEY: "k"})
