"""Integration fixtures: one session-scoped SparkSession (local[2], Delta), Azurite and the emulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ctc_spark.azurite import AzuriteProcess
from ctc_spark.config import SparkSettings


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from ctc_spark.spark import get_spark

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
