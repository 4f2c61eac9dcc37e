"""A batch's job states and what follows each: pure, shared by the task side and the ledger's tables.

Job states:  submitted -> succeeded | failed | expired;  a submit ends submitted | unknown | failed | rejected.
A `submitted` row is written (committed) before its results are awaited. On resume, unexpired `submitted`
jobs, and `succeeded` jobs whose documents still lack a result row (a crash between the two commits), are
polled, never resubmitted. `failed`, `expired` and `unknown` (the submit's answer was lost, so the service
may have billed it) batches are submitted again, up to `MAX_ATTEMPTS` times, after which their documents get
error rows; a `rejected` batch (a 400 for the request) is never sent again: the task submits its halves as
new batches, and a single refused document gets its error row at once.
"""

from __future__ import annotations

from ctc_spark.service.vocabulary import JobStatus

__all__ = ["MAX_ATTEMPTS", "MISSING_RESULT", "POLLABLE", "RETRYABLE", "TERMINAL_ERRORS", "should_retry"]

MAX_ATTEMPTS = 3
# Committed jobs that a later run polls instead of resubmitting (a `succeeded` job's results may not have
# been merged before a crash).
POLLABLE = (JobStatus.SUBMITTED.value, JobStatus.SUCCEEDED.value)
RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.EXPIRED, JobStatus.UNKNOWN})
# A document of a finished job that the service's answer did not mention.
MISSING_RESULT = "MissingResult"
# The error code a document gets when its batch gives up in that state.
TERMINAL_ERRORS: dict[str, str] = {
    JobStatus.REJECTED: "RequestRejected",
    JobStatus.FAILED: "JobFailed",
    JobStatus.EXPIRED: "JobExpired",
    JobStatus.UNKNOWN: "SubmitOutcomeUnknown",
}
_FINAL = frozenset({JobStatus.REJECTED, JobStatus.SUCCEEDED, JobStatus.SUBMITTED, JobStatus.FATAL})


def should_retry(status: str, attempts: int, *, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """Whether a batch that ended a submission in `status` after `attempts` submits is submitted again.

    Raises:
        ValueError: `status` is not a job state.
    """
    if status in RETRYABLE:
        return attempts < max_attempts
    if status in _FINAL:
        return False
    raise ValueError(f"unknown job status {status!r}")
