"""`ctc-spark local up|status|down` starts real Azurite and emulator processes on free ports in a temp home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ctc_spark.local.azurite import free_port, wait_for_port

pytestmark = pytest.mark.integration

KEY = "local-test-key"


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    return subprocess.run(
        [sys.executable, "-m", "ctc_spark.cli", "--config", str(config), "local", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )


def parse(stdout: str) -> dict[str, str]:
    values = {}
    for line in stdout.splitlines():
        if not line.startswith("#") and "=" in line:
            name, _, value = line.removeprefix("export ").partition("=")
            values[name] = value
    return values


def test_local_up_status_down(tmp_path: Path) -> None:
    port, azurite_port = free_port(), free_port()
    home = tmp_path / "home"
    config = tmp_path / "local.toml"
    config.write_text(
        f"""
[service]
endpoint = "http://127.0.0.1:{port}"
key = "{KEY}"

[emulator]
host = "127.0.0.1"
port = {port}
azurite_port = {azurite_port}
home = "{home}"
"""
    )
    try:
        up = cli(config, "up")
        assert up.returncode == 0, up.stderr + up.stdout
        values = parse(up.stdout)
        assert values["AZURE_LANGUAGE_ENDPOINT"] == f"http://127.0.0.1:{port}"
        assert values["AZURE_LANGUAGE_KEY"] == KEY
        assert f"BlobEndpoint=http://127.0.0.1:{azurite_port}/" in values["AZURE_STORAGE_CONNECTION_STRING"]
        assert (home / "logs" / "emulator.log").exists() and (home / "logs" / "azurite.log").exists()
        assert "# azurite: started" in up.stdout and "# emulator: started" in up.stdout
        pids = {name: (home / "run" / f"{name}.pid").read_text() for name in ("azurite", "emulator")}

        # The emulator answers with the configured key and can reach the Azurite it was started with.
        listed = httpx.get(
            f"http://127.0.0.1:{port}/language/authoring/analyze-text/projects",
            params={"api-version": "2023-04-01"},
            headers={"Ocp-Apim-Subscription-Key": KEY},
        )
        assert listed.status_code == 200 and listed.json()["value"] == []
        _import_through_printed_storage(values)

        again = cli(config, "up")
        assert again.returncode == 0, again.stderr
        assert {name: (home / "run" / f"{name}.pid").read_text() for name in pids} == pids
        assert "# azurite: already running" in again.stdout and "# emulator: already running" in again.stdout

        env = cli(config, "status", "--print-env")
        assert env.returncode == 0
        assert env.stdout.splitlines() == [f"{name}={value}" for name, value in values.items()]

        status = cli(config, "status", "--exports")
        assert status.returncode == 0
        assert f"export AZURE_LANGUAGE_ENDPOINT=http://127.0.0.1:{port}" in status.stdout
        assert "export AZURE_STORAGE_CONNECTION_STRING='DefaultEndpointsProtocol" in status.stdout
    finally:
        down = cli(config, "down")
    assert down.returncode == 0
    assert "emulator" in down.stdout and "azurite" in down.stdout
    assert not wait_for_port("127.0.0.1", port, timeout=1)
    assert not wait_for_port("127.0.0.1", azurite_port, timeout=1)
    stopped = cli(config, "status")
    assert stopped.returncode == 3 and "not running" in stopped.stdout
    assert "nothing was running" in cli(config, "down").stdout


def _import_through_printed_storage(values: dict[str, str]) -> None:
    """Upload with the printed connection string; the emulator must see those blobs (it got the same account)."""
    import time

    from authoring_corpus import exported_project, learnable_corpus, upload

    docs = learnable_corpus("single")
    upload(values["AZURE_STORAGE_CONNECTION_STRING"], "localdocs", docs)
    client = httpx.Client(
        base_url=values["AZURE_LANGUAGE_ENDPOINT"],
        headers={"Ocp-Apim-Subscription-Key": values["AZURE_LANGUAGE_KEY"]},
    )
    url = "/language/authoring/analyze-text/projects/local1/:import?api-version=2023-04-01"
    response = client.post(url, json=exported_project("single", "local1", "localdocs", docs))
    assert response.status_code == 202
    for _ in range(100):
        job = client.get(response.headers["Operation-Location"]).json()
        if job["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded", job


def _local_config(tmp_path: Path) -> tuple[Path, int, int]:
    port, azurite_port = free_port(), free_port()
    config = tmp_path / "local.toml"
    config.write_text(
        f'[service]\nendpoint = "http://127.0.0.1:{port}"\nkey = "{KEY}"\n\n'
        f'[emulator]\nhost = "127.0.0.1"\nport = {port}\nazurite_port = {azurite_port}\nhome = "{tmp_path / "home"}"\n'
    )
    return config, port, azurite_port


def test_local_down_only_stops_one_service(tmp_path: Path) -> None:
    config, port, azurite_port = _local_config(tmp_path)
    up = cli(config, "up")
    assert up.returncode == 0, up.stderr + up.stdout
    try:
        only = cli(config, "down", "--only", "emulator")
        assert only.returncode == 0 and only.stdout.strip() == "stopped: emulator", only.stderr
        assert not wait_for_port("127.0.0.1", port, timeout=1)
        assert wait_for_port("127.0.0.1", azurite_port, timeout=1)
        status = cli(config, "status")
        assert status.returncode == 3
        assert "# azurite: running" in status.stdout and "# emulator: not running" in status.stdout
        bad = cli(config, "down", "--only", "spark")
        assert bad.returncode == 2 and "invalid choice: 'spark'" in bad.stderr
    finally:
        down = cli(config, "down")
    assert down.stdout.strip() == "stopped: azurite"
    assert not wait_for_port("127.0.0.1", azurite_port, timeout=1)


def test_azurite_runs_without_telemetry(tmp_path: Path) -> None:
    import time

    from azure.storage.blob import BlobServiceClient

    from ctc_spark.local.azurite import AzuriteProcess

    log_path = tmp_path / "azurite.log"
    with open(log_path, "wb") as log:
        proc = AzuriteProcess(tmp_path / "data").start(log)
        try:
            assert "--disableTelemetry" in proc.command()
            container = BlobServiceClient.from_connection_string(proc.connection_string).create_container("telemetry")
            container.upload_blob("a.txt", b"some text")
            time.sleep(15)  # without the option, Azurite's first Application Insights attempt is logged after ~11 s
        finally:
            proc.stop()
    text = log_path.read_text()
    assert "successfully listens" in text
    assert "applicationinsights" not in text.lower() and "telemetry" not in text.lower(), text
