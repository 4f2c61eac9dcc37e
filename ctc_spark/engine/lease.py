"""One run at a time per tables, project and deployment: a heartbeated lease row in the `leases` table.

A run takes the lease before it plans and gives it back when it ends. A second run on the same tables,
project and deployment refuses at once with `RunInProgressError` (naming the holder and its start time), or
with `wait` polls until the lease is free. A lease whose heartbeat is older than `stale_seconds` belongs to a
run that died without releasing it, and is taken over; so is, at once, a lease whose holder ran on this host
in a process that no longer exists (a killed run re-run on the same machine need not wait for the heartbeat to
go stale). The lease is a MERGE on `lease_key`, so two runs that
race for it conflict in Delta and exactly one wins; runs on other projects or deployments never wait.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from ctc_spark.errors import RunInProgressError
from ctc_spark.io.tables import (
    TableLocation,
    create_table_with_rows,
    delete_rows,
    merge_rows,
    read_table,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = [
    "HEARTBEAT_SECONDS",
    "LEASES",
    "LEASES_SCHEMA",
    "STALE_SECONDS",
    "Holder",
    "RunLease",
    "holder_is_gone",
    "lease_key",
]

log = logging.getLogger(__name__)

LEASES = "leases"
HEARTBEAT_SECONDS = 15.0
STALE_SECONDS = 120.0  # eight missed heartbeats: the holder is gone
LEASES_SCHEMA = StructType(
    [
        StructField("lease_key", StringType(), False),
        StructField("run_id", StringType()),
        StructField("project_name", StringType()),
        StructField("deployment_name", StringType()),
        StructField("host", StringType()),
        StructField("started_at", TimestampType()),
        StructField("heartbeat_at", TimestampType()),
        StructField("pid", LongType()),
    ]
)


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, since when, and when it last said it was alive."""

    run_id: str
    started_at: datetime
    heartbeat_at: datetime
    host: str | None = None
    pid: int | None = None


def holder_is_gone(holder: Holder, host: str, pid_alive: Callable[[int], bool]) -> bool:
    """True when the holder ran on `host` in a process that no longer exists: its lease can be taken at once."""
    return holder.host == host and holder.pid is not None and not pid_alive(holder.pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def lease_key(project: str, deployment: str) -> str:
    """The key runs compete for inside one tables location."""
    return f"{project}/{deployment}"


class RunLease:
    """The lease of one run; `acquire()` before planning, `release()` when the run ends."""

    def __init__(
        self,
        spark: SparkSession,
        tables: TableLocation,
        project: str,
        deployment: str,
        run_id: str,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        stale_seconds: float = STALE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spark = spark
        self.tables = tables
        self.project = project
        self.deployment = deployment
        self.run_id = run_id
        self.key = lease_key(project, deployment)
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_seconds = stale_seconds
        self._clock = clock
        self._started = _utc(clock())
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.first_ever = False  # set by `acquire`: this run created the leases table holding its own lease

    def __repr__(self) -> str:
        return f"RunLease({self.key!r}, run_id={self.run_id!r})"

    def acquire(self, *, wait: bool = False, progress: Callable[[str], None] | None = None) -> None:
        """Take the lease, or take over a stale one; then heartbeat it until `release()`.

        Raises:
            RunInProgressError: another live run holds it and `wait` is false.
        """
        # The first run on a tables location creates the leases table with its own row in it: Delta commits
        # version 0 once, so of runs racing here exactly one holds the lease, and no run ever held one before.
        # Otherwise the table exists (found, or created by the racer that won) and the lease is a MERGE.
        self.first_ever = create_table_with_rows(self.spark, self.tables, LEASES, self._row(self._clock()))
        announced = False
        while not self.first_ever:
            holder = self._try_take()
            if holder.run_id == self.run_id:
                break
            if holder_is_gone(holder, socket.gethostname(), _pid_alive):
                log.info("run %s held lease %s in a process that has ended; taking it over", holder.run_id, self.key)
                self._take_from(holder.run_id)
                continue
            error = RunInProgressError(
                f"run {holder.run_id} (started {holder.started_at:%Y-%m-%d %H:%M:%S} UTC) is still classifying "
                f"{self.key} into {self.tables}; wait for it (--wait) or let it finish",
                run_id=holder.run_id,
                started_at=holder.started_at.isoformat(),
            )
            if not wait:
                raise error
            if not announced and progress is not None:
                progress(f"waiting: {error.message.split(';')[0]}")
                announced = True
            self._stop.wait(min(self.heartbeat_seconds, self.stale_seconds / 4))
        self._beat = threading.Thread(target=self._heartbeat, name="ctc-lease", daemon=True)
        self._beat.start()

    def release(self) -> None:
        """Stop the heartbeat and delete the lease row if it is still this run's."""
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        try:
            condition = f"lease_key = '{_quote(self.key)}' AND run_id = '{_quote(self.run_id)}'"
            delete_rows(self.spark, self.tables, LEASES, condition)
        except Exception as exc:  # a lease left behind goes stale and is taken over
            log.warning("could not release the lease of run %s: %s", self.run_id, exc)

    def _try_take(self) -> Holder:
        """MERGE our row where the key is free, ours or stale; return whoever holds it afterwards."""
        now = self._clock()
        stale_before = now - self.stale_seconds
        self._merge_own(now, f"t.run_id = s.run_id OR t.heartbeat_at < timestamp_seconds({stale_before:.3f})")
        row = read_table(self.spark, self.tables, LEASES).filter(f"lease_key = '{_quote(self.key)}'").first()
        if row is None:  # released between our MERGE and the read: try again
            return self._try_take()
        if row.run_id != self.run_id and row.heartbeat_at is not None:
            log.info("lease %s is held by run %s (heartbeat %s)", self.key, row.run_id, row.heartbeat_at)
        pid = int(row.pid) if row.pid is not None else None
        return Holder(str(row.run_id), _aware(row.started_at), _aware(row.heartbeat_at), row.host, pid)

    def _take_from(self, gone_run: str) -> None:
        """Replace the lease row of a run whose process has ended (if it is still that run's)."""
        self._merge_own(self._clock(), f"t.run_id = '{_quote(gone_run)}'")

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self._merge_own(self._clock(), "t.run_id = s.run_id", columns=["heartbeat_at"])
            except Exception as exc:  # the run goes on; a lease that stays silent is taken over
                log.warning("lease heartbeat of run %s failed: %s", self.run_id, exc)

    def _merge_own(self, now: float, condition: str, *, columns: list[str] | None = None) -> None:
        """MERGE this run's lease row on `lease_key`: inserted when the key is free, else updated where `condition`
        holds (`t` the stored row, `s` ours), all columns or only `columns`."""
        merge_rows(
            self.spark,
            self.tables,
            LEASES,
            self._row(now),
            ["lease_key"],
            update_condition=condition,
            update_columns=columns,
        )

    def _row(self, now: float) -> Any:
        host, pid = socket.gethostname(), os.getpid()
        row = (self.key, self.run_id, self.project, self.deployment, host, self._started, _utc(now), pid)
        return self.spark.createDataFrame([row], LEASES_SCHEMA)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.fromtimestamp(0, timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
