"""Wait for an authoring long-running operation: poll Operation-Location until a terminal status."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from ctc_spark.errors import DeadlineExceededError, JobFailedError
from ctc_spark.service.vocabulary import JobStatus

__all__ = ["wait_for_operation"]


class _Polls(Protocol):
    def get_operation(self, location: str) -> tuple[dict[str, Any], float | None]: ...


def wait_for_operation(
    client: _Polls,
    location: str,
    *,
    deadline_seconds: float = 3600.0,
    poll_interval: float = 2.0,
    progress: Callable[[dict[str, Any]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll until the operation ends; returns its final JSON.

    Raises:
        JobFailedError: it ended failed or cancelled (the message carries the service's errors).
        DeadlineExceededError: it was still running after `deadline_seconds`.
    """
    stop = clock() + deadline_seconds
    while True:
        job, hinted = client.get_operation(location)
        status = str(job.get("status") or "").lower()
        parsed = JobStatus.parse(status)
        if progress is not None:
            progress(job)
        if parsed is not None and parsed.is_success:
            return job
        if parsed is not None and parsed.is_failure:
            errors = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in job.get("errors") or [])
            raise JobFailedError(
                f"operation {job.get('jobId', location)} {status}{': ' + errors if errors else ''}",
                job_id=job.get("jobId"),
                status=status,
            )
        wait = hinted if hinted is not None else poll_interval
        if clock() + wait > stop:
            raise DeadlineExceededError(
                f"operation {job.get('jobId', location)} still {status} after {deadline_seconds:.0f}s",
                deadline_seconds=deadline_seconds,
            )
        sleep(wait)
