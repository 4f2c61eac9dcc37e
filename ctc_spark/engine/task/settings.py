"""What a streaming task is given: its picklable settings, and the size of the window it keeps in flight."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ctc_spark.config import BatchSettings, EngineSettings, Secret, ServiceSettings
from ctc_spark.engine.ledger.states import MAX_ATTEMPTS
from ctc_spark.engine.task.clock import Clock, SystemClock
from ctc_spark.service.vocabulary import KINDS, TaskKind

if TYPE_CHECKING:
    from ctc_spark.engine.ledger.protocol import Ledger
    from ctc_spark.engine.task.protocol import ClientFactory

__all__ = ["TaskSettings", "task_settings", "window_size"]

_EXPECTED_LATENCY = 2.0  # the first guess of a job's latency, before any job has finished


@dataclass(frozen=True)
class TaskSettings:
    """Everything a task needs, picklable: settings, the target, its quota shares, the ledger and the window."""

    service: ServiceSettings
    project: str
    deployment: str
    kind: TaskKind
    shares: tuple[float, ...]  # calls per second per task, aligned with service.resources
    ledger_url: str = ""
    ledger_token: Secret = field(default_factory=lambda: Secret(""))
    language: str = "en"
    show_stats: bool = True
    logging_opt_out: bool = True
    expected_latency: float = (
        _EXPECTED_LATENCY  # seconds from submit until a job is usually done; learned as jobs finish
    )
    concurrency: int = 32  # requests in flight (or waiting for a token) per task
    max_in_flight: int = 256  # jobs admitted and not finished, per task
    max_uncommitted: int = 1000  # submitted jobs whose ids are not committed yet, per task: a crash's redo bound
    max_attempts: int = MAX_ATTEMPTS
    job_deadline_seconds: float = 3600.0
    flush_seconds: float = 0.5  # how often results and job states go to the driver
    clock: Clock = field(default_factory=SystemClock)
    # None means the real ones: `service.AsyncRuntimeClient` per resource and `ledger.client.LedgerLink` to
    # `ledger_url`. What the driver engine (its in-process ledger) and tests (in-memory fakes) inject; picklable
    # (module-level) when the task runs on an executor.
    client_factory: ClientFactory | None = None
    link_factory: Callable[[TaskSettings], Ledger] | None = None


def window_size(calls_per_second: float, expected_latency: float, *, commit_seconds: float = 3.0) -> int:
    """Jobs a task keeps in flight: four times what its share submits while one job completes and commits.

    Twice would keep the bucket busy in steady state; four times also leaves, when the input runs out, a
    backlog of finished jobs long enough to use the quota until the last submitted job is done.
    """
    return max(16, min(5000, int(4 * calls_per_second * (expected_latency + commit_seconds)) + 1))


def task_settings(
    service: ServiceSettings,
    batch: BatchSettings,
    engine: EngineSettings,
    *,
    project: str,
    deployment: str,
    kind: str,
    shares: tuple[float, ...],
    max_uncommitted: int,
    concurrency: int = 32,
    ledger_url: str = "",
    ledger_token: Secret | None = None,
    link_factory: Callable[[TaskSettings], Ledger] | None = None,
    client_factory: ClientFactory | None = None,
) -> TaskSettings:
    """The settings of a task that runs `shares` of the resources' quotas, its window sized for them.

    What differs by engine: the ledger (`ledger_url` and `ledger_token`, or `link_factory`), `concurrency`, and
    `client_factory` (tests).

    Raises:
        ValueError: `kind` is not a task kind.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return TaskSettings(
        service=service,
        project=project,
        deployment=deployment,
        kind=kind,
        shares=shares,
        language=batch.language,
        show_stats=batch.show_stats,
        logging_opt_out=batch.logging_opt_out,
        expected_latency=_EXPECTED_LATENCY,
        max_in_flight=window_size(sum(shares), _EXPECTED_LATENCY),
        max_uncommitted=max_uncommitted,
        job_deadline_seconds=engine.job_deadline_seconds,
        concurrency=concurrency,
        ledger_url=ledger_url,
        ledger_token=ledger_token or Secret(""),
        link_factory=link_factory,
        client_factory=client_factory,
    )
