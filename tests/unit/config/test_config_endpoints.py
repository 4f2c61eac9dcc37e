"""Every resource's endpoint is checked when settings load: https, or http on a loopback host only."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import ENV_ENDPOINT, ENV_KEY, check_endpoint, load_settings
from ctc_spark.errors import ConfigError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _two(second: str) -> str:
    return (
        "[[service.resources]]\nname = 'main'\nendpoint = 'https://a.example'\nkey_env = 'KEY_A'\n"
        f"[[service.resources]]\nname = 'spare'\nendpoint = '{second}'\nkey_env = 'KEY_B'\n"
    )


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://b.example",  # the key would cross the network in clear text
        "http://10.1.2.3:5290",
        "htps://b.example",
        "b.example",
        "https://",
        "https://user:pw@b.example",
        "https://b.example?x=1",
        "https://b.example#f",
        "",
    ],
)
def test_a_secondary_resource_endpoint_is_validated_like_the_first(tmp_path: Path, endpoint: str) -> None:
    path = _write(tmp_path, _two(endpoint))
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={"KEY_A": "ka", "KEY_B": "kb"})
    message = str(info.value)
    assert "'spare'" in message and repr(endpoint.rstrip("/")) in message and "service.resources[1].endpoint" in message
    assert "kb" not in message.replace("b.example", "")


@pytest.mark.parametrize("endpoint", ["https://b.example", "http://127.0.0.1:5290", "http://localhost:9/"])
def test_good_secondary_endpoints_load(tmp_path: Path, endpoint: str) -> None:
    settings = load_settings(_write(tmp_path, _two(endpoint)), env={"KEY_A": "ka", "KEY_B": "kb"})
    assert settings.service.resources[1].endpoint == endpoint.rstrip("/")


def test_a_remote_http_primary_endpoint_is_refused_from_the_environment(tmp_path: Path) -> None:
    path = _write(tmp_path, "[service]\nendpoint = 'http://127.0.0.1:1'\n")
    with pytest.raises(ConfigError, match=r"'http://lang\.example\.com'.*https.*AZURE_LANGUAGE_ENDPOINT"):
        load_settings(path, env={ENV_ENDPOINT: "http://lang.example.com", ENV_KEY: "k"})


def test_check_endpoint_is_pure_and_names_the_resource() -> None:
    assert check_endpoint("https://x.example/", resource="r") == "https://x.example"
    with pytest.raises(ConfigError, match=r"resource 'r'.*'http://x\.example'.*loopback"):
        check_endpoint("http://x.example", resource="r", key="service.endpoint")
