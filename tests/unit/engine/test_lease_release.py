"""A run gives its lease back as soon as its `results` and `jobs` writes are done, before its `runs` row: a
lease given back is not a lease lost, whatever happens to the run afterwards."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ctc_spark.engine.lease import RunLease
from ctc_spark.engine.run import _lost_lease
from ctc_spark.errors import LeaseLostError
from ctc_spark.io.tables import TableLocation


def _held_lease(now: list[float]) -> RunLease:
    """A lease as `acquire` leaves it, minus the heartbeat (none is needed here): generation set, renewed at 0."""
    lease = RunLease(
        None,  # type: ignore[arg-type]  # nothing here reaches Spark: the lease row is never written
        TableLocation.parse("/tmp/ctc-unit-tables"),
        "proj",
        "prod",
        "run-1",
        renew_seconds=60,
        stale_seconds=300,
        monotonic=lambda: now[0],
    )
    lease.generation, lease._renewed = 1, 0.0
    return lease


def test_a_lease_past_its_renewal_deadline_explains_a_failure_until_it_is_released() -> None:
    now = [0.0]
    lease = _held_lease(now)
    run: Any = SimpleNamespace(lease=lease)
    assert _lost_lease(run, RuntimeError("the runs row failed")) is None  # renewed just now: not lost
    now[0] = 61.0  # past the deadline (no heartbeat renewed it)
    lost = _lost_lease(run, RuntimeError("the runs row failed"))
    assert isinstance(lost, LeaseLostError) and "not renewed for 61s" in lost.message


class _Spark:
    """Records the SQL statements it is given: the lease's DELETE is the only one `release` sends."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def sql(self, statement: str) -> Any:
        self.statements.append(statement)
        return SimpleNamespace(collect=lambda: [(1,)])


def test_a_released_lease_is_not_lost_and_releasing_again_deletes_nothing_more() -> None:
    now = [0.0]
    lease = _held_lease(now)
    spark = lease.spark = _Spark()  # type: ignore[assignment]
    lease.release()
    assert lease.released and len(spark.statements) == 1 and spark.statements[0].startswith("DELETE FROM")
    now[0] = 500.0  # the final `runs` write took long after the lease was given back
    run: Any = SimpleNamespace(lease=lease)
    assert _lost_lease(run, RuntimeError("the runs row failed")) is None
    lease.release()  # the run's `finally` releases it again: no second DELETE
    assert len(spark.statements) == 1


def test_a_take_that_waited_past_a_heartbeat_is_renewed_at_once_and_a_quick_one_is_not() -> None:
    now = [0.0]
    lease = _held_lease(now)
    spark = lease.spark = _Spark()  # type: ignore[assignment]
    now[0] = lease.heartbeat_seconds / 2  # a quick take: its heartbeat is fresh
    lease.renew_if_old()
    assert spark.statements == []
    now[0] = 55.0  # the take's MERGE waited for task slots: its heartbeat is 55 s old, 5 s from the deadline
    lease.renew_if_old()
    assert len(spark.statements) == 1 and spark.statements[0].startswith("UPDATE ")
    assert "generation = 1" in spark.statements[0]  # only our own generation: a lease taken over is not renewed
    now[0] = 100.0  # 45 s after that renewal: within the deadline, where it would have been 100 s past without it
    lease.check()
