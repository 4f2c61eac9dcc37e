"""The run's frozen plan, stored where an executor's death cannot take it: a run-scoped Delta table.

`localCheckpoint()` kept the plan's blocks on the executors, so losing one failed the run
(`CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND`). A Delta table under the tables location survives executor loss: a task
retried elsewhere reads the same input again, and every stage after it recomputes deterministically from it.
The table is dropped when the run ends, failed or not; only a killed driver leaves one behind (`_ctc_plan_*`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ctc_spark.io.tables import TableLocation, read_table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["PLAN_PREFIX", "frozen_plan", "plan_table_name"]

log = logging.getLogger(__name__)

PLAN_PREFIX = "_ctc_plan_"


def plan_table_name(run_id: str) -> str:
    """A table name for the run's plan that is valid as a folder and as a metastore identifier."""
    return PLAN_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", run_id).lower()


@contextmanager
def frozen_plan(frame: DataFrame, location: TableLocation, run_id: str) -> Iterator[DataFrame]:
    """Write `frame` once to the run's plan table and yield it read back; drop the table on the way out."""
    spark: Any = frame.sparkSession
    name = plan_table_name(run_id)
    writer = frame.write.format("delta").mode("overwrite")
    if location.is_metastore:
        writer.saveAsTable(".".join((location.root, name)))
    else:
        writer.save(location.path(name))
    try:
        yield read_table(spark, location, name)
    finally:
        _drop(spark, location, name)


def _drop(spark: Any, location: TableLocation, name: str) -> None:
    try:
        if location.is_metastore:
            spark.sql(f"DROP TABLE IF EXISTS {location.name(name)}")
            return
        jvm = spark.sparkContext._jvm
        path = jvm.org.apache.hadoop.fs.Path(location.path(name))
        path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).delete(path, True)
    except Exception as exc:  # the run's outcome does not depend on this clean-up
        log.warning("could not drop the run's plan table %s: %s", name, exc)
