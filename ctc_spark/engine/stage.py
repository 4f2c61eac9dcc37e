"""The streaming stage: the run's batches submitted and polled while the ledger records them.

The run's `Engine` (`engines.py`) drives the batches: streaming tasks on the executors, or the driver itself.
Either way the ledger service (`ledger/service.py`) commits every submitted job id to `jobs` before the job
is polled, and writes results into `results` as they arrive. A dry run counts the stage's actions instead of
streaming them (`preview_plan`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ctc_spark.engine.context import RunContext, RunSummary
from ctc_spark.engine.ledger.routing import ResultRouting
from ctc_spark.engine.ledger.service import LedgerService
from ctc_spark.engine.ledger.sink import RunTarget
from ctc_spark.engine.ledger.writer import LedgerWriter
from ctc_spark.engine.planning.estimate import check_budget
from ctc_spark.engine.planning.preview import plan_from_actions
from ctc_spark.engine.task.runner import TaskCounters
from ctc_spark.errors import AuthenticationError, CTCError, InvalidRequestError, NotFoundError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["abort_error", "preview_plan", "run_stream", "tally_outputs"]

log = logging.getLogger(__name__)

_PROGRESS_SECONDS = 5.0
# The typed errors a fatal answer of the service keeps when it stops the run (see `task/scheduler.py`).
_ABORTS: dict[str, type[CTCError]] = {
    "AuthenticationError": AuthenticationError,
    "NotFoundError": NotFoundError,
    "InvalidRequestError": InvalidRequestError,
}


def preview_plan(run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]], *, todo: int, invalid: int) -> None:
    """Count the plan (one Spark job), report it, and refuse it when it bills more than the cap."""
    s = run.summary
    s.plan = plan_from_actions(
        run.engine.actions(run, valid, resumed),
        input_docs=s.input_docs,
        skipped_docs=s.input_docs - todo,
        invalid_docs=invalid,
        calls_per_minute=run.settings.service.total_calls_per_minute,
        burst_calls=run.settings.service.total_burst_calls,
    )
    run.progress(s.plan.describe())
    check_budget(s.plan, run.max_text_records)


def run_stream(
    run: RunContext, valid: DataFrame, resumed: list[dict[str, Any]], errors: DataFrame | None, *, total: int, sent: int
) -> LedgerService:
    """Run the streaming stage with the ledger up; error rows go through the same writer.

    Returns the closed service once every result is written; `join()` it for the last job states.

    Raises:
        AuthenticationError, NotFoundError, InvalidRequestError: the service refused the run's credentials,
            project or deployment. LedgerError: the ledger failed. Whatever the engine's stage raised.
    """
    s = run.summary
    engine = run.engine
    tasks = engine.tasks(run) if sent else 0
    service = engine.ledger(
        run,
        RunTarget(
            s.run_id,
            run.project,
            run.deployment,
            run.kind,
            run.settings.service.runtime_api_version,
            run.model.label,
            run.model.model_id,
        ),
        expected_docs=sent,
        before_jobs=run.opened.result if run.opened else None,  # no job id before the run's `runs` row
        fence=run.fence,  # the lease's check: before every write and every task call
        fenced=run.lease.fence if run.lease is not None else None,  # every write's source reads the lease row
        routing=ResultRouting(run.known_rows),  # which result rows are appended, which MERGEd
    )
    outputs: list[TaskCounters] = []
    launched = time.time()
    with contextlib.ExitStack() as stack:
        stack.enter_context(service)
        stack.enter_context(_reporting(run, service.writer, total))
        if errors is not None:
            service.writer.write_result_frame(errors)
        if tasks:
            outputs = engine.drive(run, valid, resumed, service, tasks)
    if service.writer.abort:
        raise abort_error(service.writer.abort)
    s.tasks, s.commits = tasks, service.writer.commits
    first = tally_outputs(
        s, outputs, launched=launched, started=run.started_epoch, results_at=service.writer.results_committed_at
    )
    if first is not None:
        log.info("first analyze call %.1fs after the streaming stage was launched", first - launched)
    _report(run, service.writer, total, started=first if first is not None else time.time())
    return service


def abort_error(abort: str) -> CTCError:
    """The typed error of a fatal answer that stopped the run (`"AuthenticationError: ..."`), else a `CTCError`."""
    name, _, message = abort.partition(": ")
    kind = _ABORTS.get(name)
    if kind is None:
        return CTCError(f"the service refused the run: {abort}")
    return kind(f"the service refused the run: {message or abort}")


def tally_outputs(
    summary: RunSummary,
    outputs: Sequence[TaskCounters],
    *,
    launched: float,
    started: float,
    results_at: float | None,
) -> float | None:
    """Add the tasks' counter rows to `summary` and time its phases; returns the first call's epoch, if any.

    `launched` is when the streaming stage started, `started` when the run did, `results_at` when the last
    results were committed (all epoch seconds).
    """
    for o in outputs:
        summary.submits += int(o["submits"])
        summary.polls += int(o["polls"])
        summary.retries += int(o["retries"])
        summary.throttled += int(o["throttled"])
        summary.resubmitted_batches += int(o["resubmits"])
    firsts = [o["first_call_at"] for o in outputs if o["first_call_at"]]
    if not firsts:
        return None
    first = float(min(firsts))
    if results_at:
        summary.service_seconds = max(0.0, results_at - first)
        summary.planning_seconds = max(0.0, first - started)
        summary.step_seconds["first_call"] = round(max(0.0, first - launched), 3)
        summary.step_seconds["streaming"] = round(summary.service_seconds, 3)
    return first


@contextlib.contextmanager
def _reporting(run: RunContext, writer: LedgerWriter, total: int) -> Iterator[None]:
    """Print the progress every few seconds while the block runs."""
    stop = threading.Event()
    started = time.time()

    def loop() -> None:
        while not stop.wait(_PROGRESS_SECONDS):
            _report(run, writer, total, started=started)

    reporter = threading.Thread(target=loop, name="ctc-progress", daemon=True)
    reporter.start()
    try:
        yield
    finally:
        stop.set()
        reporter.join()


def _report(run: RunContext, writer: LedgerWriter, total: int, *, started: float) -> None:
    rate = writer.received_docs / max(1e-6, time.time() - started) * 60
    run.progress(
        f"classified {writer.received_docs}/{total} documents ({rate:,.0f} docs/min); "
        f"{writer.committed_jobs} jobs committed, {writer.merged_docs} results written"
    )
