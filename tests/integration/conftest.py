"""Integration fixtures: one session-scoped SparkSession (local[2], Delta), Azurite and the emulator on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctc_spark.config import SparkSettings
from ctc_spark.local.azurite import AzuriteProcess

# The Spark Connect tier needs its own process (a live Connect session changes getOrCreate process-wide):
# `make test` runs `pytest tests/integration/connect` separately, with SPARK_TESTING=1.
collect_ignore = [] if os.environ.get("SPARK_TESTING") else ["connect"]


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from ctc_spark.io.session import get_spark

    warehouse = tmp_path_factory.mktemp("warehouse")
    settings = SparkSettings(
        master="local[2]",
        app_name="ctc-spark-tests",
        conf=(
            ("spark.sql.warehouse.dir", str(warehouse)),
            ("spark.driver.memory", "2g"),
            ("spark.sql.session.timeZone", "UTC"),
        ),
    )
    session = get_spark(settings, testing=True)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteProcess]:
    """A real Azurite Blob service; `.connection_string` is what azure-storage-blob needs."""
    location: Path = tmp_path_factory.mktemp("azurite")
    with AzuriteProcess(location) as proc:
        yield proc


TEST_KEY = "ctc-test-key"


@pytest.fixture(scope="session")
def make_emulator(azurite: AzuriteProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A factory for emulators with their own settings (quota, faults, clock); all are stopped at the end."""
    from ctc_spark.emulator import EmulatorConfig, EmulatorServer

    started: list[EmulatorServer] = []

    def factory(**overrides: object) -> EmulatorServer:
        fields: dict[str, object] = {
            "host": "127.0.0.1",
            "port": 0,
            "keys": (TEST_KEY,),
            "state_dir": tmp_path_factory.mktemp("emulator-state"),
            "storage_connection_string": azurite.connection_string,
            "calls_per_minute": None,
            "authoring_posts_per_minute": None,
            "authoring_gets_per_minute": None,
            "seed": 0,
        }
        fields.update(overrides)
        server = EmulatorServer(EmulatorConfig(**fields)).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def emulator(make_emulator: object) -> object:
    """One shared emulator with quotas off; tests read stats as deltas, never absolutes."""
    return make_emulator()  # type: ignore[operator]
