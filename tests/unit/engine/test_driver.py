"""The driver engine's pure parts: engine selection, the prefetcher, the in-process ledger link, its plan."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from ctc_spark.config import EngineSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.engines import driver_concurrency, driver_task_settings, select_engine
from ctc_spark.engine.ledger.inprocess import InProcessLink
from ctc_spark.engine.task.prefetch import Prefetcher
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


def test_the_executor_engine_is_refused_under_spark_connect_and_unknown_engines_are_named() -> None:
    with pytest.raises(ConfigError, match="executor engine needs a classic Spark session"):
        select_engine("executors", _Connect())
    with pytest.raises(ConfigError, match="'gpu'"):
        select_engine("gpu", _Classic())


def test_prefetcher_never_blocks_and_reports_exhaustion() -> None:
    gate = threading.Event()

    def rows() -> Any:
        yield {"batch_id": "a"}
        gate.wait(5)
        yield {"batch_id": "b"}

    woken: list[int] = []
    source = Prefetcher(rows(), buffer=10).start()
    source.bind(lambda: woken.append(1))
    deadline = time.monotonic() + 5
    got: list[dict[str, Any]] = []
    while not got and time.monotonic() < deadline:
        got, done = source.take_ready(64)
    assert got == [{"batch_id": "a"}] and not done
    started = time.monotonic()
    assert source.take_ready(64) == ([], False)  # the reader is stuck upstream: nothing ready, not exhausted
    assert time.monotonic() - started < 1.0
    gate.set()
    rest: list[dict[str, Any]] = []
    done = False
    while not done and time.monotonic() < deadline:
        chunk, done = source.take_ready(64)
        rest += chunk
    assert rest == [{"batch_id": "b"}] and done and woken
    source.close()


def test_prefetcher_bounds_what_it_reads_ahead_and_raises_the_readers_failure() -> None:
    read: list[int] = []

    def rows() -> Any:
        for i in range(100):
            read.append(i)
            yield {"i": i}
        raise RuntimeError("the Spark job failed")

    source = Prefetcher(rows(), buffer=5).start()
    time.sleep(0.3)
    assert len(read) <= 7, f"read {len(read)} rows ahead with a buffer of 5"
    seen = 0
    with pytest.raises(RuntimeError, match="the Spark job failed"):
        for _ in range(1000):
            chunk, _done = source.take_ready(3)
            seen += len(chunk)
            time.sleep(0.001)
    assert seen == 100
    source.close()


def test_prefetcher_close_stops_a_reader_waiting_on_a_full_queue() -> None:
    source = Prefetcher(iter({"i": i} for i in range(1000)), buffer=2).start()
    time.sleep(0.1)
    source.close()
    assert not source._thread.is_alive()


class _Ledger:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str]] = []

    def handle(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((path, body, threading.current_thread().name))
        return {"abort": None}


def test_in_process_link_calls_the_ledger_off_the_event_loop() -> None:
    ledger = _Ledger()
    link = InProcessLink(ledger)  # type: ignore[arg-type]

    async def go() -> list[dict[str, Any]]:
        return [
            await link.commit([{"batch_id": "b1"}]),
            await link.events([{"doc_id": "d"}], []),
            await link.lookup(["b1"]),
        ]

    main = threading.current_thread().name
    assert asyncio.run(go()) == [{"abort": None}] * 3
    assert [c[0] for c in ledger.calls] == ["/commit", "/events", "/lookup"]
    assert ledger.calls[0][1] == {"jobs": [{"batch_id": "b1"}]}
    assert all(thread != main for _, _, thread in ledger.calls)


def test_driver_plan_takes_each_resources_full_quota_and_the_whole_uncommitted_bound() -> None:
    resources = (
        ResourceSettings(endpoint="http://127.0.0.1:1", key=Secret("k"), calls_per_minute=6000, name="a"),
        ResourceSettings(endpoint="http://127.0.0.1:2", key=Secret("k"), calls_per_minute=1200, name="b"),
    )
    settings = Settings(service=ServiceSettings(resources=resources), engine=EngineSettings(max_uncommitted_jobs=300))
    plan = driver_task_settings(settings, "p", "d", "single", _Ledger())  # type: ignore[arg-type]
    assert plan.shares == (100.0, 20.0)
    assert plan.max_uncommitted == 300 and plan.concurrency == 200  # two seconds of quota, capped by connections
    assert isinstance(plan.link_factory(plan), InProcessLink)  # type: ignore[misc]


def test_driver_concurrency_is_two_seconds_of_quota_within_the_connections() -> None:
    assert driver_concurrency((10.0,)) == 32  # a floor for small quotas
    assert driver_concurrency((30.0,)) == 60
    assert driver_concurrency((1000.0,)) == MAX_CONNECTIONS  # 60,000 calls/min: never more than the pool
    assert driver_concurrency((100.0, 100.0, 100.0)) == 3 * MAX_CONNECTIONS
