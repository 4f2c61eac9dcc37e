"""The Spark Connect tier: a local Spark Connect session (server in this process, Delta in it) replaces `spark`.

A live Connect session makes `getOrCreate()` return Connect sessions for the whole process, so this tier
runs in its own pytest process (`make test` runs it second; the main run ignores this folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from ctc_spark.config import SparkSettings


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from ctc_spark.io.connect import is_connect
    from ctc_spark.io.session import get_spark

    os.environ["SPARK_TESTING"] = "1"  # the local Connect server binds an ephemeral port
    warehouse = tmp_path_factory.mktemp("warehouse")
    settings = SparkSettings(
        remote="local[2]",
        app_name="ctc-spark-connect-tests",
        conf=(
            ("spark.sql.warehouse.dir", str(warehouse)),
            ("spark.driver.memory", "2g"),
            ("spark.sql.session.timeZone", "UTC"),
        ),
    )
    session = get_spark(settings, testing=True)
    assert is_connect(session), f"expected a Spark Connect session, got {type(session).__module__}"
    yield session
    session.stop()
