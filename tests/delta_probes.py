"""What a Delta table's history and a query's scans say, for the integration tests that count writes and files."""

from __future__ import annotations

from typing import Any

from ctc_spark.io.tables import TableLocation


def version(spark: Any, location: TableLocation, table: str) -> int:
    """The table's latest version."""
    return int(spark.sql(f"DESCRIBE HISTORY {location.name(table)}").agg({"version": "max"}).first()[0])


def operations(spark: Any, location: TableLocation, table: str, after: int) -> list[str]:
    """The operations (`WRITE`, `MERGE`, ...) of the table's versions after `after`, oldest first."""
    history = spark.sql(f"DESCRIBE HISTORY {location.name(table)}").filter(f"version > {after}")
    return [r.operation for r in history.orderBy("version").collect()]


def files_read(frame: Any) -> int:
    """The files a query of `frame` opens once Delta has skipped what its statistics rule out (classic sessions).

    The query runs without adaptive execution, whose stages would hide the scans from `collectLeaves`; pass a
    frame not yet executed (a frame keeps the physical plan of its first execution).
    """
    spark = frame.sparkSession
    adaptive = spark.conf.get("spark.sql.adaptive.enabled")
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    try:
        execution = frame._jdf.queryExecution()
        execution.toRdd().count()
        total, nodes = 0, execution.executedPlan().collectLeaves().iterator()
        while nodes.hasNext():
            metrics = nodes.next().metrics()
            if metrics.contains("numFiles"):
                total += int(metrics.apply("numFiles").value())
        return total
    finally:
        spark.conf.set("spark.sql.adaptive.enabled", adaptive)
