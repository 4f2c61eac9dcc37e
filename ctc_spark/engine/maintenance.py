"""`maintain`: keep a year of nightly runs cheap: compact and cluster, vacuum, prune old job events, drop orphaned plans.

Safe while a classification runs: plan tables are listed before the leases are read, and a plan whose run holds
a live lease (a heartbeat within `STALE_SECONDS`) is left alone; job rows are pruned only when their job is
older than any resume could poll (the service forgets a job 24 hours after its submission; `JOB_EVENTS_HOURS`
keeps a margin); OPTIMIZE and DELETE conflict with a run's MERGEs only as Delta commits, which both sides retry;
VACUUM keeps every file a version of the last `retention_hours` refers to. Idempotent: a second call finds
nothing to prune or drop, OPTIMIZE finds nothing to compact, and each table's files and bytes stay the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from ctc_spark.engine.lease import LEASES, STALE_SECONDS
from ctc_spark.engine.ledger.prune import prune_jobs
from ctc_spark.engine.ledger.tables import JOBS, RESULTS, RUNS
from ctc_spark.engine.planning.frozen import PLAN_PREFIX, plan_table_name
from ctc_spark.io.layout import describe_detail
from ctc_spark.io.maintenance import check_retention, drop_table, list_tables, optimize, vacuum
from ctc_spark.io.tables import TableLocation, read_table, table_exists

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["JOB_EVENTS_HOURS", "MAINTAINED", "MaintenanceReport", "TableReport", "maintain", "orphaned_plans"]

log = logging.getLogger(__name__)

MAINTAINED = (RESULTS, JOBS, RUNS, LEASES)
# Job rows are kept three times the service's 24-hour job lifetime: a resume never needs an older one.
JOB_EVENTS_HOURS = 72.0


@dataclass(frozen=True)
class TableReport:
    """One table's live files and bytes before and after maintenance (`DESCRIBE DETAIL`)."""

    table: str
    files_before: int
    bytes_before: int
    files_after: int
    bytes_after: int

    def __str__(self) -> str:
        return (
            f"{self.table}: {self.files_before} files, {self.bytes_before:,} bytes -> "
            f"{self.files_after} files, {self.bytes_after:,} bytes"
        )


@dataclass
class MaintenanceReport:
    """What `maintain` did (or, in a dry run, would do)."""

    tables: list[TableReport] = field(default_factory=list)
    pruned_job_rows: int = 0
    dropped_plans: list[str] = field(default_factory=list)
    kept_plans: list[str] = field(default_factory=list)
    dry_run: bool = False


def maintain(
    spark: SparkSession,
    tables: str | TableLocation,
    *,
    retention_hours: float = 168.0,
    job_events_hours: float = JOB_EVENTS_HOURS,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> MaintenanceReport:
    """Maintain the engine's tables at `tables`: drop orphaned plans, prune old job rows, OPTIMIZE, VACUUM.

    Args:
        spark: the session.
        tables: a folder for the Delta tables, or `catalog.schema`.
        retention_hours: VACUUM keeps files that a version of the last this many hours refers to (>= 168
            unless Delta's retention check is off).
        job_events_hours: `jobs` rows of jobs submitted longer ago than this are deleted (at least 24).
        dry_run: report the tables and what would be pruned and dropped; change nothing.
        progress: receives one line per table and step (default: the log).
        now: the clock (tests).

    Raises:
        ConfigError: a retention below its floor.
    """
    from ctc_spark.errors import ConfigError

    location = tables if isinstance(tables, TableLocation) else TableLocation.parse(tables)
    say = progress or (lambda msg: log.info("%s", msg))
    check_retention(spark, retention_hours)
    if job_events_hours < 24:
        raise ConfigError(f"job rows must be kept >= 24 hours, got {job_events_hours:g}", key="job_events_hours")
    now = now or datetime.now(timezone.utc)
    report = MaintenanceReport(dry_run=dry_run)
    present = [t for t in MAINTAINED if table_exists(spark, location, t)]
    before = {t: describe_detail(spark, location, t) for t in present}
    orphans, kept = orphaned_plans(spark, location, now=now)
    report.kept_plans = kept
    for plan in orphans:
        say(f"{'would drop' if dry_run else 'dropping'} the orphaned plan table {plan}")
        if not dry_run:
            drop_table(spark, location, plan)
        report.dropped_plans.append(plan)
    if JOBS in present:
        report.pruned_job_rows = prune_jobs(spark, location, now - timedelta(hours=job_events_hours), dry_run, say)
    for t in present:
        if not dry_run:
            optimize(spark, location, t)
            vacuum(spark, location, t, retention_hours)
        after = before[t] if dry_run else describe_detail(spark, location, t)
        row = TableReport(t, before[t].num_files, before[t].size_bytes, after.num_files, after.size_bytes)
        report.tables.append(row)
        say(str(row))
    return report


def orphaned_plans(spark: SparkSession, location: TableLocation, *, now: datetime) -> tuple[list[str], list[str]]:
    """The plan tables (`_ctc_plan_*`) no live lease owns, and those one does.

    The plans are listed before the leases are read: a run writes its plan only once it holds its lease, so a
    plan listed here belongs to a lease the read that follows sees, or to a run that has ended.
    """
    plans = list_tables(spark, location, PLAN_PREFIX)
    if not plans:
        return [], []
    live = _live_runs(spark, location, now)
    owned = {plan_table_name(project, deployment, run_id) for project, deployment, run_id in live}
    return [p for p in plans if p not in owned], [p for p in plans if p in owned]


def _live_runs(spark: SparkSession, location: TableLocation, now: datetime) -> set[tuple[str, str, str]]:
    """(project, deployment, run id) of every lease renewed within the staleness window."""
    from pyspark.sql import functions as F

    if not table_exists(spark, location, LEASES):
        return set()
    fresh = now - timedelta(seconds=STALE_SECONDS)
    leases = read_table(spark, location, LEASES).filter(F.col("heartbeat_at") >= F.lit(fresh))
    rows = leases.select("project_name", "deployment_name", "run_id").collect()
    return {(str(r.project_name), str(r.deployment_name), str(r.run_id)) for r in rows}
