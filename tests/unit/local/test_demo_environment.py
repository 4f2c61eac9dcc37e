"""The demo cannot reach a real resource: the shell's overrides are dropped and its settings are the local services'."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import load_settings
from ctc_spark.errors import ConfigError
from ctc_spark.local.azurite import azurite_connection_string
from ctc_spark.local.demo import _local_settings
from ctc_spark.local.services import LocalServices, ServiceState, clean_environment

REAL = {
    "AZURE_LANGUAGE_ENDPOINT": "https://real.cognitiveservices.azure.com/",
    "AZURE_LANGUAGE_KEY": "real-key",
    "AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=real;AccountKey=eA==",
    "CTC_SPARK_CONFIG": "/somewhere/azure.toml",
}


def test_clean_environment_drops_the_service_variables_and_ctc_spark_overrides() -> None:
    env = {**REAL, "PATH": "/usr/bin", "AZURE_CLIENT_ID": "kept", "JAVA_HOME": "/jdk"}
    cleaned, dropped = clean_environment(env)
    assert dropped == sorted(REAL)
    assert cleaned == {"PATH": "/usr/bin", "AZURE_CLIENT_ID": "kept", "JAVA_HOME": "/jdk"}
    assert clean_environment({"PATH": "/usr/bin"}) == ({"PATH": "/usr/bin"}, [])


def _services(endpoint: str = "http://127.0.0.1:5391") -> LocalServices:
    state = ServiceState("x", 1, 1, True, started=True)
    return LocalServices(
        Path("/tmp/home"), endpoint, "local-key", azurite_connection_string("127.0.0.1", 10301), state, state
    )


def test_demo_settings_point_only_at_the_local_services(tmp_path: Path) -> None:
    config = tmp_path / "local.toml"
    config.write_text('[service]\nendpoint = "http://127.0.0.1:5391"\nkey = "file-key"\ncalls_per_minute = 600\n')
    settings = _local_settings(config, _services())
    [resource] = settings.service.resources
    assert resource.endpoint == "http://127.0.0.1:5391" and resource.key is not None
    assert resource.key.reveal() == "local-key" and resource.calls_per_minute == 600
    assert settings.storage.connection_string is not None
    assert "BlobEndpoint=http://127.0.0.1:10301/" in settings.storage.connection_string.reveal()
    # The file alone would have given the same endpoint: the demo's settings do not depend on the shell.
    assert load_settings(config, env={}).service.primary.endpoint == resource.endpoint


def test_demo_refuses_an_emulator_that_is_not_on_loopback(tmp_path: Path) -> None:
    config = tmp_path / "local.toml"
    config.write_text('[service]\nendpoint = "http://127.0.0.1:5391"\nkey = "k"\n')
    with pytest.raises(ConfigError, match="only runs against a local emulator"):
        _local_settings(config, _services("http://10.1.2.3:5391"))


@pytest.mark.parametrize(
    ("azurite_started", "emulator_started", "stopped", "kept"),
    [
        (True, True, [["azurite", "emulator"]], None),
        (False, True, [["emulator"]], "left running: azurite (already running before the demo)"),
        (True, False, [["azurite"]], "left running: emulator (already running before the demo)"),
        (False, False, [], "left running: azurite, emulator (already running before the demo)"),
    ],
)
def test_the_demo_stops_only_what_it_started(
    azurite_started: bool,
    emulator_started: bool,
    stopped: list[list[str]],
    kept: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ctc_spark.local.demo import _stop_started

    services = LocalServices(
        Path("/tmp/home"),
        "http://127.0.0.1:5391",
        "k",
        "cs",
        ServiceState("azurite", 1, 10301, True, started=azurite_started),
        ServiceState("emulator", 2, 5391, True, started=emulator_started),
    )
    calls: list[list[str]] = []
    _stop_started(object(), services, lambda settings, only: calls.append(list(only)))  # type: ignore[arg-type]
    assert calls == stopped
    out = capsys.readouterr().out
    assert (kept in out) if kept else ("left running" not in out)
