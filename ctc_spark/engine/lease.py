"""One run at a time per tables, project and deployment: a renewed, fenced lease row in the `leases` table.

A run takes the lease before it plans and gives it back when it ends. A second run on the same tables,
project and deployment refuses at once with `RunInProgressError` (naming the holder and its start time), or
with `wait` polls until the lease is free. The lease is a MERGE on `lease_key`, so two runs that race for it
conflict in Delta and exactly one wins; runs on other projects or deployments never wait.

Fencing. Every take or takeover raises the row's `generation`, and the holder renews only the row that still
has its run id and generation (an UPDATE: a row that is gone is never brought back). A renewal that matches
nothing means another run took the lease over: the lease is lost, `check()` raises `LeaseLostError`, and
`fence()` makes a write's source empty, so a zombie's write inserts nothing. A holder that has not renewed for
`renew_seconds` (by its own monotonic clock) is lost too, before any other run may take over: a lease is taken
over once its last renewal is `stale_seconds` old (`renew_seconds < stale_seconds`; the difference is the
clock skew between hosts the rule tolerates). A lease whose holder is a process of this machine that has ended
(same boot id and pid namespace, and no process with its pid and start time) is taken over at once; a host
name and a pid alone prove nothing (containers share host names and reuse pids).
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
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pyspark.sql.types import LongType, StringType, StructField, StructType, TimestampType

from ctc_spark.errors import ConfigError, LeaseLostError, RunInProgressError
from ctc_spark.io.evolution import add_missing_columns
from ctc_spark.io.frames import local_frame
from ctc_spark.io.session import use_pool
from ctc_spark.io.tables import (
    TableLocation,
    create_table_with_rows,
    delete_rows,
    merge_rows,
    read_table,
    sql_string,
    update_rows,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "LEASES",
    "LEASES_SCHEMA",
    "LEASE_POOL",
    "RENEW_SECONDS",
    "STALE_SECONDS",
    "Holder",
    "RunLease",
    "holder_is_gone",
    "lease_key",
    "process_identity",
]

log = logging.getLogger(__name__)
# The scheduler pool of the renewals (its minimum share is in `io/fairscheduler.xml`).
LEASE_POOL = "ctc-lease"

LEASES = "leases"
RENEW_SECONDS = 60.0  # a holder that has not renewed for this long stops
STALE_SECONDS = 120.0  # a lease not renewed for this long is taken over
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
        StructField("generation", LongType()),
        StructField("process", StringType()),
    ]
)
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Holder:
    """Who holds a lease, since when, when it last renewed it, under which generation, in which process."""

    run_id: str
    started_at: datetime
    heartbeat_at: datetime
    generation: int | None = None
    process: str | None = None


def process_identity(pid: int) -> str | None:
    """`boot id/pid namespace/pid/start time` of a process of this machine; None when it does not exist (or
    this is not Linux). A pid is reused, a start time within one boot is not."""
    try:
        boot = _BOOT_ID.read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")  # /proc/<pid> is looked up in our own namespace
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces; field 3 onwards follow it
    return f"{boot}/{namespace}/{pid}/{fields[19]}"  # field 22: start time in clock ticks after boot


def holder_is_gone(recorded: str | None, here: str | None, local: Callable[[int], str | None]) -> bool:
    """True when the holder's process (`recorded`, a `process_identity`) ran on this machine (`here`: our boot id
    and pid namespace) and no longer exists: no process has its pid and start time. Unknown means alive."""
    if not recorded or not here or not recorded.startswith(here + "/"):
        return False
    pid = recorded[len(here) + 1 :].split("/")[0]
    return pid.isdigit() and local(int(pid)) != recorded


def lease_key(project: str, deployment: str) -> str:
    """The key runs compete for inside one tables location: each name percent-encoded, so `/` separates them."""
    return f"{quote(project, safe='')}/{quote(deployment, safe='')}"


class RunLease:
    """The lease of one run; `acquire()` before planning, `check()` or `fence()` before writing, `release()`."""

    def __init__(
        self,
        spark: SparkSession,
        tables: TableLocation,
        project: str,
        deployment: str,
        run_id: str,
        *,
        renew_seconds: float = RENEW_SECONDS,
        stale_seconds: float = STALE_SECONDS,
        heartbeat_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < renew_seconds < stale_seconds:
            raise ConfigError(
                f"the lease renewal deadline ({renew_seconds:g}s) must be shorter than the takeover staleness "
                f"({stale_seconds:g}s, engine.lease_stale_seconds)",
                key="engine.lease_renew_seconds",
            )
        self.spark = spark
        self.tables = tables
        self.project = project
        self.deployment = deployment
        self.run_id = run_id
        self.key = lease_key(project, deployment)
        self.renew_seconds = renew_seconds
        self.stale_seconds = stale_seconds
        self.heartbeat_seconds = heartbeat_seconds if heartbeat_seconds is not None else renew_seconds / 4
        self.generation: int | None = None  # the fencing token, set when this run holds the lease
        self.lost: str | None = None  # why the lease was lost; it is never held again
        self.first_ever = False  # set by `acquire`: this run created the leases table holding its own lease
        self.released = False  # `release` ran: the run no longer holds (or renews) the lease
        self.on_lost: list[Callable[[LeaseLostError], None]] = []
        self._clock = clock
        self._monotonic = monotonic
        self._started = _utc(clock())
        self._renewed: float | None = None  # our monotonic clock when the last successful renewal began
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._beat: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"RunLease({self.key!r}, run_id={self.run_id!r}, generation={self.generation!r})"

    def acquire(self, *, wait: bool = False, progress: Callable[[str], None] | None = None) -> None:
        """Take the lease, or take over a stale one; then renew it until `release()`.

        Raises:
            RunInProgressError: another live run holds it and `wait` is false.
        """
        # The first run on a tables location creates the leases table with its own row in it: Delta commits
        # version 0 once, so of runs racing here exactly one holds the lease, and no run ever held one before.
        # Otherwise the table exists (found, or created by the racer that won) and the lease is a MERGE.
        began, now = self._monotonic(), self._clock()
        self.first_ever = create_table_with_rows(self.spark, self.tables, LEASES, self._row(now))
        if self.first_ever:
            self.generation, self._renewed = _token(now), began
        else:
            add_missing_columns(self.spark, self.tables, LEASES, LEASES_SCHEMA)  # a table an older version made
        announced = False
        while self.generation is None:
            holder = self._try_take()
            if self.generation is not None:
                break
            if holder_is_gone(holder.process, _here(), process_identity):
                log.info("run %s held lease %s in a process that has ended; taking it over", holder.run_id, self.key)
                self._take_from(holder)
                continue
            error = RunInProgressError(
                f"run {holder.run_id} (started {holder.started_at:%Y-%m-%d %H:%M:%S} UTC) is still classifying "
                f"{self.project}/{self.deployment} into {self.tables}; wait for it (--wait) or let it finish",
                run_id=holder.run_id,
                started_at=holder.started_at.isoformat(),
            )
            if not wait:
                raise error
            if not announced and progress is not None:
                progress(f"waiting: {error.message.split(';')[0]}")
                announced = True
            self._stop.wait(min(self.heartbeat_seconds, self.stale_seconds / 4))
        self.renew_if_old()
        log.info("run %s holds lease %s (generation %s)", self.run_id, self.key, self.generation)
        self._beat = threading.Thread(target=self._heartbeat, name="ctc-lease", daemon=True)
        self._beat.start()

    def renew_if_old(self) -> None:
        """Renew at once if the lease was last renewed more than a heartbeat ago.

        The row's heartbeat is the time its take began. A take whose Spark jobs waited (say, on a cluster whose
        cores another application holds) is already old when it commits: without this renewal (an UPDATE of our
        own generation) the run would find its fresh lease past its deadline and stop.
        """
        if self._renewed is not None and self._monotonic() - self._renewed > self.heartbeat_seconds:
            self.renew()

    def check(self) -> None:
        """Return if this run still holds its lease; call it before any submit or ledger write.

        Raises:
            LeaseLostError: another run took the lease over, or it was not renewed for `renew_seconds`.
        """
        with self._lock:
            lost = self.lost
            if lost is None and self._renewed is not None:
                age = self._monotonic() - self._renewed
                if age > self.renew_seconds:
                    lost = (
                        f"its lease was not renewed for {age:.0f}s (the deadline is {self.renew_seconds:g}s, "
                        "engine.lease_renew_seconds), so another run may take it over"
                    )
        if lost is not None:
            raise self._lose(lost)

    def fence(self, frame: DataFrame) -> DataFrame:
        """`frame`, or no rows when this run no longer holds its lease as the statement that reads it runs.

        Use it as the source of a write (MERGE, append): the lease row is read by that same statement, so a
        run whose lease was taken over writes nothing, even between its last `check()` and its write.
        """
        from pyspark.sql import functions as F

        held = read_table(self.spark, self.tables, LEASES).where(self.held_condition())
        return frame.crossJoin(held.select(F.lit(1).alias("__ctc_lease")).limit(1)).drop("__ctc_lease")

    def held_condition(self) -> str:
        """The SQL condition over `leases` that holds while this run holds its lease (its run id and generation)."""
        generation = self.generation if self.generation is not None else -1
        return (
            f"lease_key = {sql_string(self.key)} AND run_id = {sql_string(self.run_id)} AND generation = {generation}"
        )

    def renew(self) -> bool:
        """Renew the lease once (an UPDATE of our own row and generation); False when it turned out lost.

        A renewal that fails (say, storage is slow) keeps the lease until `renew_seconds` have passed.
        """
        if self.lost is not None or self.generation is None:
            return self.lost is None
        began, now = self._monotonic(), self._clock()
        try:
            changed = update_rows(
                self.spark, self.tables, LEASES, f"heartbeat_at = timestamp_seconds({now:.3f})", self.held_condition()
            )
        except Exception as exc:  # the deadline decides: `check()` fails the run if renewals keep failing
            log.warning("renewing the lease of run %s failed: %s", self.run_id, exc)
            return True
        if not changed:
            self._lose("another run took its lease over (the lease row no longer has its run id and generation)")
            return False
        with self._lock:
            self._renewed = max(self._renewed or began, began)
        return True

    def release(self) -> None:
        """Stop renewing and delete the lease row if it is still this run's (its run id and generation).

        Idempotent: a second call does nothing.
        """
        with self._lock:
            if self.released:
                return
            self.released = True
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
            self._beat = None
        if self.generation is None or self.lost is not None:
            return
        try:
            delete_rows(self.spark, self.tables, LEASES, self.held_condition())
        except Exception as exc:  # a lease left behind goes stale and is taken over
            log.warning("could not release the lease of run %s: %s", self.run_id, exc)

    def _lose(self, why: str) -> LeaseLostError:
        """Mark the lease lost (once: the first reason stays) and tell `on_lost`; returns the error to raise."""
        with self._lock:
            first = self.lost is None
            self.lost = self.lost or why
            self._stop.set()
        error = LeaseLostError(
            f"run {self.run_id} stopped: {self.lost}; it no longer classifies {self.project}/{self.deployment} "
            f"into {self.tables} (whatever it did not write is left to the run that holds the lease)",
            tables=str(self.tables),
            project=self.project,
            deployment=self.deployment,
            run_id=self.run_id,
        )
        if first:
            log.error("%s", error.message)
            for callback in list(self.on_lost):
                callback(error)
        return error

    def _try_take(self) -> Holder:
        """MERGE our row where the key is free, ours or stale; return whoever holds it afterwards."""
        began, now = self._monotonic(), self._clock()
        stale_before = now - self.stale_seconds
        self._merge_own(now, f"t.run_id = s.run_id OR t.heartbeat_at < timestamp_seconds({stale_before:.3f})")
        row = read_table(self.spark, self.tables, LEASES).where(f"lease_key = {sql_string(self.key)}").first()
        if row is None:  # released between our MERGE and the read: try again
            return self._try_take()
        if row.run_id == self.run_id:
            self.generation, self._renewed = int(row.generation), began
        elif row.heartbeat_at is not None:
            log.info("lease %s is held by run %s (heartbeat %s)", self.key, row.run_id, row.heartbeat_at)
        generation = int(row.generation) if row.generation is not None else None
        return Holder(str(row.run_id), _aware(row.started_at), _aware(row.heartbeat_at), generation, row.process)

    def _take_from(self, gone: Holder) -> None:
        """Replace the lease row of a run whose process has ended (if it is still that run's, same generation)."""
        same = "" if gone.generation is None else f" AND t.generation = {gone.generation}"
        self._merge_own(self._clock(), f"t.run_id = {sql_string(gone.run_id)}{same}")

    def _heartbeat(self) -> None:
        use_pool(self.spark, LEASE_POOL)  # never queued behind a long stage of the run's own
        while not self._stop.wait(self.heartbeat_seconds):
            if not self.renew():
                return

    def _merge_own(self, now: float, condition: str) -> None:
        """MERGE this run's lease row on `lease_key`: inserted when the key is free, else replaced where
        `condition` holds (`t` the stored row, `s` ours) under a higher generation than the stored one."""
        columns = [f.name for f in LEASES_SCHEMA.fields if f.name != "generation"]
        merge_rows(
            self.spark,
            self.tables,
            LEASES,
            self._row(now),
            ["lease_key"],
            update_condition=condition,
            update_columns=columns,
            update_set={"generation": "greatest(coalesce(t.generation, 0) + 1, s.generation)"},
        )

    def _row(self, now: float) -> Any:
        pid = os.getpid()
        row = (
            self.key,
            self.run_id,
            self.project,
            self.deployment,
            socket.gethostname(),
            self._started,
            _utc(now),
            pid,
            _token(now),
            process_identity(pid),
        )
        return local_frame(self.spark, [row], LEASES_SCHEMA)


def _here() -> str | None:
    """This process's boot id and pid namespace: the prefix of every `process_identity` of this machine."""
    mine = process_identity(os.getpid())
    return mine.rsplit("/", 2)[0] if mine else None


def _token(now: float) -> int:
    """A new row's generation: milliseconds since the epoch, so a key's generations keep rising across releases."""
    return int(now * 1000)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.fromtimestamp(0, timezone.utc)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
