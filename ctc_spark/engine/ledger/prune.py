"""Pruning the ledger's `jobs` table: rows of jobs no resume can need any more (the service forgets a job after
24 hours; `ctc-spark maintain` keeps a margin)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from ctc_spark.engine.ledger.tables import JOBS
from ctc_spark.io.tables import TableLocation, delete_rows, read_table, sql_literal

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["prune_jobs"]


def prune_jobs(
    spark: SparkSession, location: TableLocation, cutoff: datetime, dry_run: bool, say: Callable[[str], None]
) -> int:
    """Delete the `jobs` rows of jobs submitted (or, without a job, written) before `cutoff`; returns how many."""
    condition = f"coalesce(submitted_at, updated_at) < {sql_literal(cutoff)}"
    n = read_table(spark, location, JOBS).filter(condition).count()
    if n:
        say(f"{'would prune' if dry_run else 'pruning'} {n} job rows older than {cutoff:%Y-%m-%d %H:%M} UTC")
        if not dry_run:
            delete_rows(spark, location, JOBS, condition)
    return n
