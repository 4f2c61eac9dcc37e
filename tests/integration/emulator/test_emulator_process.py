"""The emulator started by `local up` gets its key from the environment: never on its command line (`ps`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ctc_spark.config import load_settings
from ctc_spark.local.azurite import free_port
from ctc_spark.local.services import DEFAULT_EMULATOR_KEY, local_down, local_up

pytestmark = pytest.mark.integration

KEY = "cmdline-secret-key-42"


def test_the_emulator_key_is_not_on_its_command_line_and_guards_the_admin_routes(tmp_path: Path) -> None:
    port, azurite_port = free_port(), free_port()
    config = tmp_path / "local.toml"
    config.write_text(
        f'[service]\nendpoint = "http://127.0.0.1:{port}"\nkey = "{KEY}"\n\n'
        f'[emulator]\nhost = "127.0.0.1"\nport = {port}\nazurite_port = {azurite_port}\nhome = "{tmp_path / "home"}"\n'
    )
    settings = load_settings(config, env={})
    try:
        services = local_up(settings)
        assert services.emulator.pid is not None and services.key == KEY
        cmdline = Path(f"/proc/{services.emulator.pid}/cmdline").read_bytes()
        assert b"ctc_spark.cli" in cmdline and KEY.encode() not in cmdline, cmdline.replace(b"\0", b" ")
        url = f"http://127.0.0.1:{port}/language/authoring/analyze-text/projects?api-version=2023-04-01"
        assert httpx.get(url, headers={"Ocp-Apim-Subscription-Key": KEY}).status_code == 200
        assert httpx.get(url, headers={"Ocp-Apim-Subscription-Key": DEFAULT_EMULATOR_KEY}).status_code == 401
        faults = f"http://127.0.0.1:{port}/emulator/faults"
        assert httpx.put(faults, json={"error_500_rate": 1.0}).status_code == 401
        assert httpx.get(faults, headers={"Ocp-Apim-Subscription-Key": KEY}).json()["error_500_rate"] == 0.0
    finally:
        local_down(settings)
