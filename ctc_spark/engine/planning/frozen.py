"""The run's frozen plan, stored where an executor's death cannot take it: a run-scoped Delta table.

`localCheckpoint()` kept the plan's blocks on the executors, so losing one failed the run
(`CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND`). A Delta table under the tables location survives executor loss: a task
retried elsewhere reads the same input again, and every stage after it recomputes deterministically from it.
Its name is a hash of the project, deployment and run id (runs and deployments sharing the tables never share
a plan). The table is dropped when the run ends, failed or not, classic or Spark Connect; only a killed driver
leaves one behind (`_ctc_plan_*`).

On a local master (`io.connect.is_local_master`) the only executor is the driver's own JVM: no executor is
lost without the driver, so the plan is a local checkpoint in its block manager (memory, spilling to local
disk) instead of a table written and read back. The run's first call comes seconds sooner, and nothing is
left behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ctc_spark.io.maintenance import drop_table
from ctc_spark.io.observe import observe
from ctc_spark.io.tables import TableLocation, read_table

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["PLAN_PREFIX", "FrozenPlan", "frozen_plan", "plan_table_name"]

log = logging.getLogger(__name__)

PLAN_PREFIX = "_ctc_plan_"


def plan_table_name(project: str, deployment: str, run_id: str) -> str:
    """The plan table's name: a hash of the run's project, deployment and id (valid as a folder and as an
    identifier, and distinct for any two runs)."""
    digest = hashlib.sha256(json.dumps([project, deployment, run_id]).encode()).hexdigest()
    return PLAN_PREFIX + digest[:40]


@dataclass(frozen=True)
class FrozenPlan:
    """The plan read back from its table, and its `counts` (None when none were asked for)."""

    frame: DataFrame
    counts: dict[str, Any] | None


@contextmanager
def frozen_plan(
    frame: DataFrame,
    location: TableLocation,
    *,
    project: str,
    deployment: str,
    run_id: str,
    counts: Sequence[Column] = (),
    in_memory: bool = False,
) -> Iterator[FrozenPlan]:
    """Write `frame` once to the run's plan table and yield it read back; drop the table on the way out.

    `counts` (aliased aggregate Columns) are computed by the write itself (`io/observe.py`), so the plan need not
    be read again to be counted; only a session that reports no observed metrics counts the table it wrote.
    `in_memory` (a local master only) keeps `frame` as a local checkpoint instead (`_checkpointed_plan`).
    """
    if in_memory:
        with _checkpointed_plan(frame, counts) as kept:
            yield kept
        return
    spark: Any = frame.sparkSession
    name = plan_table_name(project, deployment, run_id)
    observed = observe(frame, f"ctc_plan_{run_id}", counts) if counts else None
    writer = (observed.frame if observed else frame).write.format("delta").mode("overwrite")
    try:
        if location.is_metastore:
            writer.saveAsTable(f"{location.root}.{name}")
        else:
            writer.save(location.path(name))
        plan = read_table(spark, location, name)
        counted = observed.metrics() if observed else None
        if observed and counted is None:
            log.info("the plan's write reported no counts: counting the plan table")
            row = plan.agg(*counts).first()
            counted = row.asDict() if row else {}
        yield FrozenPlan(plan, counted)
    finally:
        _drop(spark, location, name)


@contextmanager
def _checkpointed_plan(frame: DataFrame, counts: Sequence[Column]) -> Iterator[FrozenPlan]:
    """`frame` computed once into the driver's block manager (a local checkpoint: memory, spilling to local
    disk), then counted from there; its blocks are released on the way out.

    A checkpoint, not `persist()`: a cached plan that reads `results` is recomputed by Spark whenever a write
    to that table invalidates it (the run's own writes would shrink its plan and pay the skip join again); a
    checkpoint has no lineage left to recompute.
    """
    from pyspark import StorageLevel

    kept = frame.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
    try:
        row = kept.agg(*counts).first() if counts else None
        yield FrozenPlan(kept, (row.asDict() if row else {}) if counts else None)
    finally:
        _release(kept)


def _release(checkpointed: DataFrame) -> None:
    """Free a local checkpoint's blocks now rather than when the JVM collects its RDD (a notebook can run
    for hours); best effort."""
    try:
        checkpointed._jdf.queryExecution().analyzed().rdd().unpersist(False)
    except Exception as exc:  # the blocks go when the RDD is collected anyway
        log.debug("could not release the plan's checkpoint now (%s); Spark frees it later", exc)


def _drop(spark: Any, location: TableLocation, name: str) -> None:
    """Drop the plan table (`io/maintenance.drop_table`: classic, Spark Connect, metastore or folder)."""
    try:
        drop_table(spark, location, name)
    except Exception as exc:  # the run's outcome does not depend on this clean-up
        log.warning("could not drop the run's plan table %s: %s", location.name(name), exc)
