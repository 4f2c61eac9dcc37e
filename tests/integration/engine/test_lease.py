"""The run lease on real Delta: the first run creates the table holding its lease, a second run is refused,
a stale lease is taken over, and leases of other deployments never block."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from ctc_spark.engine.lease import LEASES, RunLease
from ctc_spark.errors import RunInProgressError
from ctc_spark.io.tables import TableLocation, create_table_with_rows, read_table

pytestmark = pytest.mark.integration


def _lease(spark, loc: TableLocation, run_id: str, deployment: str = "prod", **kw) -> RunLease:
    return RunLease(spark, loc, "proj", deployment, run_id, **kw)


def test_racing_creators_of_a_table_exactly_one_wins(spark, tmp_path: Path) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables"))
    barrier = threading.Barrier(3)
    won: list[bool] = []

    def create(n: int) -> None:
        rows = spark.createDataFrame([(f"racer-{n}",)], "who STRING")
        barrier.wait()
        won.append(create_table_with_rows(spark, loc, "claims", rows))

    racers = [threading.Thread(target=create, args=(n,)) for n in range(3)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert sorted(won) == [False, False, True]
    assert read_table(spark, loc, "claims").count() == 1  # the losers wrote nothing
    assert not create_table_with_rows(spark, loc, "claims", spark.createDataFrame([("late",)], "who STRING"))


def test_first_lease_creates_the_table_then_others_are_refused_until_it_is_released(spark, tmp_path: Path) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables"))
    first = _lease(spark, loc, "run-1")
    first.acquire()
    try:
        assert first.first_ever
        with pytest.raises(RunInProgressError, match=r"run run-1 .* is still classifying proj/prod") as refused:
            _lease(spark, loc, "run-2").acquire()
        assert refused.value.run_id == "run-1"
        other = _lease(spark, loc, "run-3", deployment="staging")  # another deployment: its own key
        other.acquire()
        assert not other.first_ever
        other.release()
    finally:
        first.release()
    second = _lease(spark, loc, "run-2")
    second.acquire()
    assert not second.first_ever  # the table existed: the MERGE path
    holders = {r.run_id for r in read_table(spark, loc, LEASES).collect()}
    second.release()
    assert holders == {"run-2"}
    assert read_table(spark, loc, LEASES).count() == 0


def test_a_stale_lease_is_taken_over_and_a_waiting_run_gets_it_on_release(spark, tmp_path: Path) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables"))
    silent = _lease(spark, loc, "silent", heartbeat_seconds=3600)  # alive, but never heartbeats
    silent.acquire()
    try:
        time.sleep(1.5)
        taker = _lease(spark, loc, "taker", stale_seconds=1.0)
        taker.acquire()
        assert {r.run_id for r in read_table(spark, loc, LEASES).collect()} == {"taker"}
        waiting = _lease(spark, loc, "waiting", heartbeat_seconds=0.5)
        lines: list[str] = []
        waiter = threading.Thread(target=waiting.acquire, kwargs={"wait": True, "progress": lines.append})
        waiter.start()
        deadline = time.monotonic() + 120
        while not lines and time.monotonic() < deadline:
            time.sleep(0.2)
        assert waiter.is_alive() and any("waiting: run taker" in ln for ln in lines)
        taker.release()
        waiter.join(timeout=120)
        assert not waiter.is_alive()
        assert {r.run_id for r in read_table(spark, loc, LEASES).collect()} == {"waiting"}
        waiting.release()
    finally:
        silent.release()  # its row is gone: releasing deletes nothing of anyone else's
    assert read_table(spark, loc, LEASES).count() == 0
