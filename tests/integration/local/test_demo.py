"""`make demo` with the shell pointing at unreachable Azure resources: it uses only the services it starts.

The demo runs as a subprocess on free ports in a temp home, with a smaller corpus (--docs). It must exit 0, say
once that it ignored the variables, print no "expired" warning, leave Azurite's log without a telemetry attempt,
and stop the services it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctc_spark.local.azurite import free_port, wait_for_port
from ctc_spark.local.services import clean_environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

UNREACHABLE = {
    "AZURE_LANGUAGE_ENDPOINT": "https://unreachable.invalid/",
    "AZURE_LANGUAGE_KEY": "not-a-real-key",
    "AZURE_STORAGE_CONNECTION_STRING": (
        "DefaultEndpointsProtocol=https;AccountName=nobody;AccountKey=bm90LWEta2V5;"
        "BlobEndpoint=https://unreachable.invalid/nobody;"
    ),
}


def test_demo_ignores_the_shells_azure_variables_and_exits_0(tmp_path: Path) -> None:
    port, azurite_port = free_port(), free_port()
    home = tmp_path / "home"
    config = tmp_path / "local.toml"
    config.write_text(
        f'[service]\nendpoint = "http://127.0.0.1:{port}"\nkey = "demo-test-key"\n\n'
        '[spark]\nmaster = "local[2]"\n\n[spark.conf]\n"spark.ui.enabled" = "false"\n'
        '"spark.ui.showConsoleProgress" = "false"\n"spark.sql.shuffle.partitions" = "4"\n\n'
        f'[emulator]\nhost = "127.0.0.1"\nport = {port}\nazurite_port = {azurite_port}\nhome = "{home}"\n'
    )
    env = {**clean_environment(os.environ)[0], **UNREACHABLE, "CTC_SPARK_CONFIG": str(tmp_path / "absent.toml")}

    done = subprocess.run(
        [sys.executable, "-m", "ctc_spark.local.demo", "--docs", "1000", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=1500,
    )

    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-5000:]
    ignored = [line for line in output.splitlines() if line.startswith("ignored ")]
    assert ignored == [
        "ignored AZURE_LANGUAGE_ENDPOINT, AZURE_LANGUAGE_KEY, AZURE_STORAGE_CONNECTION_STRING, CTC_SPARK_CONFIG "
        "from the shell: the demo uses only the services it starts"
    ]
    assert "expired" not in output.lower()
    assert "classified 1000/1000 documents" in output and "demo finished" in output
    assert "unreachable.invalid" not in output
    azurite_log = (home / "logs" / "azurite.log").read_text()
    assert "successfully listens" in azurite_log
    assert "applicationinsights" not in azurite_log.lower() and "telemetry" not in azurite_log.lower()
    assert "stop the services this demo started (ctc-spark local down)" in output
    assert not wait_for_port("127.0.0.1", port, timeout=1) and not wait_for_port("127.0.0.1", azurite_port, timeout=1)
