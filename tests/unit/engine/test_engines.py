"""The engines' pure parts: engine selection, the streaming stage's task count, the driver engine's settings."""

from __future__ import annotations

import pytest
from ledger_fakes import MemorySink

from ctc_spark.config import EngineSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.engines import driver_concurrency, driver_task_settings, select_engine, stream_tasks
from ctc_spark.engine.ledger.inprocess import InProcessLink
from ctc_spark.engine.ledger.writer import LedgerWriter
from ctc_spark.errors import ConfigError
from ctc_spark.service.transport import MAX_CONNECTIONS


class _Classic:
    pass


class _Connect:
    pass


_Connect.__module__ = "pyspark.sql.connect.session"


def test_auto_gives_connect_sessions_the_driver_engine_and_classic_ones_the_executors() -> None:
    assert select_engine("auto", _Connect()).name == "driver"
    assert select_engine("auto", _Classic()).name == "executors"
    assert select_engine("driver", _Classic()).name == "driver"
    assert select_engine("executors", _Classic()).name == "executors"


class _Context:
    def __init__(self, master: str) -> None:
        self.master = master


class _Local:
    def __init__(self, master: str) -> None:
        self.sparkContext = _Context(master)


@pytest.mark.parametrize(
    ("master", "calls_per_second", "engine"),
    [
        ("local[2]", 1000 / 60, "driver"),  # one task's quota: the driver process makes the calls itself
        ("local", 50.0, "driver"),
        ("local[*, 4]", 6000 / 60, "executors"),  # two tasks' worth: Python workers beside the driver
        ("local-cluster[2,1,1024]", 1000 / 60, "executors"),  # executors are processes of their own
        ("spark://127.0.0.1:7077", 1000 / 60, "executors"),
        ("yarn", 1.0, "executors"),
    ],
)
def test_auto_gives_a_local_master_the_driver_engine_when_one_task_carries_the_quota(
    master: str, calls_per_second: float, engine: str
) -> None:
    assert select_engine("auto", _Local(master), calls_per_second=calls_per_second).name == engine
    assert select_engine("executors", _Local(master), calls_per_second=calls_per_second).name == "executors"


def test_the_executor_engine_is_refused_under_spark_connect_and_unknown_engines_are_named() -> None:
    with pytest.raises(ConfigError, match="executor engine needs a classic Spark session"):
        select_engine("executors", _Connect())
    with pytest.raises(ConfigError, match="'gpu'"):
        select_engine("gpu", _Classic())


def test_driver_plan_takes_each_resources_full_quota_and_the_whole_uncommitted_bound() -> None:
    resources = (
        ResourceSettings(endpoint="http://127.0.0.1:1", key=Secret("k"), calls_per_minute=6000, name="a"),
        ResourceSettings(endpoint="http://127.0.0.1:2", key=Secret("k"), calls_per_minute=1200, name="b"),
    )
    settings = Settings(service=ServiceSettings(resources=resources), engine=EngineSettings(max_uncommitted_jobs=300))
    plan = driver_task_settings(settings, "p", "d", "single", LedgerWriter(MemorySink()))
    assert plan.shares == (100.0, 20.0)
    assert plan.max_uncommitted == 300 and plan.concurrency == 200  # two seconds of quota, capped by connections
    assert isinstance(plan.link_factory(plan), InProcessLink)  # type: ignore[misc]


def test_driver_concurrency_is_two_seconds_of_quota_within_the_connections() -> None:
    assert driver_concurrency((10.0,)) == 32  # a floor for small quotas
    assert driver_concurrency((30.0,)) == 60
    assert driver_concurrency((1000.0,)) == MAX_CONNECTIONS  # 60,000 calls/min: never more than the pool
    assert driver_concurrency((100.0, 100.0, 100.0)) == 3 * MAX_CONNECTIONS


def test_streaming_tasks_follow_the_quota_and_always_leave_a_slot_for_commits() -> None:
    assert stream_tasks(2, 1000 / 60) == 1
    assert stream_tasks(2, 6000 / 60) == 1  # two would want both slots; the ledger's Delta commits need one
    assert stream_tasks(8, 6000 / 60) == 2
    assert stream_tasks(64, 100_000 / 60) == 34
    assert stream_tasks(8, 100.0, configured=3) == 3
    with pytest.raises(ConfigError, match="at least 2 task slots"):
        stream_tasks(1, 10.0)
    with pytest.raises(ConfigError, match=r"engine\.tasks"):
        stream_tasks(4, 10.0, configured=4)
