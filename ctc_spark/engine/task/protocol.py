"""What a streaming task needs from its collaborators: the batches it is given and the service client it calls.

The ledger's side of the task is `engine/ledger/protocol.py` (`Ledger`, the rows that cross); the clock is
`clock.py`. Both engines feed a task through a `BatchSource` (`prefetch.Prefetcher`), and its calls go through
an `AnalyzeClient` (`service.AsyncRuntimeClient`, or an in-memory fake in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypedDict

if TYPE_CHECKING:
    from ctc_spark.config import ResourceSettings, ServiceSettings
    from ctc_spark.service.models import AnalyzeDocument, AnalyzeJob, CallStats, SubmittedJob
    from ctc_spark.service.transport import RateLimiter
    from ctc_spark.service.vocabulary import TaskKind

__all__ = ["AnalyzeClient", "BatchRow", "BatchSource", "ClientFactory"]


class BatchRow(TypedDict):
    """One batch a task drives, as the planning step packs it: a new batch (`submit`) or a resumed job (`poll`)."""

    action: str
    batch_id: str
    resource: str
    doc_ids: list[str]
    texts: list[str] | None
    text_sha256s: list[str]
    job_id: str | None
    operation_location: str | None
    submitted_at: float | None  # epoch seconds
    attempts: int | None


class BatchSource(Protocol):
    """A task's input, read ahead so that taking from it never blocks the event loop (`prefetch.Prefetcher`)."""

    def bind(self, wake: Callable[[], None]) -> None:
        """Call `wake` (thread-safe) whenever rows arrive or the input ends."""
        ...

    def take_ready(self, n: int) -> tuple[list[BatchRow], bool]:
        """Up to `n` rows that are ready now, and whether the input is exhausted."""
        ...


class AnalyzeClient(Protocol):
    """The service calls a task makes: `service.AsyncRuntimeClient` implements it."""

    @property
    def stats(self) -> CallStats: ...

    async def submit(
        self,
        documents: Sequence[AnalyzeDocument],
        *,
        project: str,
        deployment: str,
        kind: TaskKind,
        display_name: str | None = None,
        logging_opt_out: bool = True,
    ) -> SubmittedJob: ...

    async def get_job(
        self, job: str, *, show_stats: bool = False, expected_ids: Sequence[str] | None = None
    ) -> AnalyzeJob: ...

    async def aclose(self) -> None: ...


# Builds one resource's client for a task, with the task's limiter: picklable (a module-level function).
ClientFactory = Callable[["ResourceSettings", "ServiceSettings", "RateLimiter"], AnalyzeClient]
