"""A run's shared state: what it runs with and against (`RunContext`) and what it did (`RunSummary`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ctc_spark.config import Settings
from ctc_spark.engine.planning.estimate import Plan
from ctc_spark.engine.planning.model import DeploymentModel, SkipBy
from ctc_spark.engine.planning.retry import RetryErrors
from ctc_spark.io.tables import TableLocation

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from ctc_spark.engine.engines import Engine
    from ctc_spark.engine.lease import RunLease

__all__ = ["Kind", "RunContext", "RunSummary", "timed"]

Kind = Literal["single", "multi"]


@dataclass
class RunSummary:
    """What one run did; `input_docs == skipped_docs + succeeded_docs + errored_docs` when it reconciles."""

    run_id: str
    input_docs: int = 0
    skipped_docs: int = 0
    succeeded_docs: int = 0
    errored_docs: int = 0
    submits: int = 0
    polls: int = 0
    throttled: int = 0
    retries: int = 0
    resubmitted_batches: int = 0
    resumed_jobs: int = 0
    text_records: int = 0
    commits: int = 0  # ledger commits of submitted job ids
    tasks: int = 0  # streaming tasks
    duration_seconds: float = 0.0
    planning_seconds: float = 0.0  # run start to the first analyze call
    service_seconds: float = 0.0  # first analyze call to last results commit: the quota-bound phase
    errors_by_code: dict[str, int] = field(default_factory=dict)
    model_label: str | None = None  # the deployment's model, written on every result row
    model_id: str | None = None
    skip_by: str = "text+model"
    retry_errors: str = "transient"
    dry_run: bool = False
    plan: Plan | None = None  # set by a dry run, or when `max_text_records` is set and open jobs are resumed
    step_seconds: dict[str, float] = field(default_factory=dict)  # tables, model, planning, first_call, ...


@dataclass
class RunContext:
    """What one run's steps share: its session, settings, target, options, model and summary."""

    spark: SparkSession
    settings: Settings
    tables: TableLocation
    project: str
    deployment: str
    kind: Kind
    summary: RunSummary
    progress: Callable[[str], None]
    engine: Engine  # who calls the service (`engines.py`)
    pack_docs: int = 0  # documents to pack, for the partition count under Spark Connect
    invalid_docs: int = 0  # planned documents that pre-validation gave an error row (never sent)
    planned_records: int = 0  # the text records the plan's valid documents bill
    skip_by: SkipBy = "text+model"
    retry_errors: RetryErrors = "transient"
    dry_run: bool = False
    max_text_records: int | None = None
    fresh: bool = False  # the run created the tables and the first lease: nothing to skip, nothing to resume
    named: bool = False  # the caller chose the run id (a generated one is new: no need to look it up in `runs`)
    id_range: tuple[str | None, str | None] = (None, None)  # the input's smallest and largest document id
    known_rows: frozenset[str] | None = frozenset()  # planned documents with a `results` row; None: too many
    fence: Callable[[], object] | None = None  # raises once the run no longer holds its lease
    opened: futures.Future[None] | None = None  # the `runs` row of a running run: committed before any job id
    lease: RunLease | None = None  # held while the run writes (None for a dry run): `check()` before writing
    model: DeploymentModel = field(default_factory=DeploymentModel)
    started: float = field(default_factory=time.monotonic)
    started_epoch: float = field(default_factory=time.time)


def timed(run: RunContext, step: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)`, adding its wall-clock seconds to the summary's `step_seconds[step]`."""
    t0 = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        steps = run.summary.step_seconds
        steps[step] = round(steps.get(step, 0.0) + time.monotonic() - t0, 3)
