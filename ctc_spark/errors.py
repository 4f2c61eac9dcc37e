"""The ctc-spark exception tree; every error is picklable and carries its context as attributes.

CTCError
├── ConfigError                      a missing or invalid setting (names the key and the file)
├── InputError                       bad input data (names the file, column, document or value)
├── ServiceError                     an answer from the Language service (status, codes, request id)
│   ├── TransientServiceError        5xx, timeouts, connection errors: worth retrying
│   │   └── ThrottledError           429: retry after `retry_after` seconds
│   ├── AuthenticationError          401/403: check the key, the endpoint or the token
│   ├── NotFoundError                404: unknown project, deployment, model or job
│   ├── ConflictError                409: e.g. a second training job for one project
│   └── InvalidRequestError          any other 4xx: the request itself is wrong
├── SubmitOutcomeUnknownError        a submit was sent but no answer came: a job may exist
├── JobFailedError                   a long-running operation ended failed or cancelled
├── DeadlineExceededError            waiting for an operation ran past its deadline
├── LedgerError                      the driver's ledger could not commit, or refused an executor
├── RunInProgressError               another run holds the lease on these tables, project and deployment
├── LeaseLostError                   this run's lease was taken over, or not renewed in time: it must stop
├── BudgetExceededError              a run's plan bills more text records than `--max-text-records` allows
└── ReconciliationError              a run's document counts do not add up
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BudgetExceededError",
    "CTCError",
    "ConfigError",
    "ConflictError",
    "DeadlineExceededError",
    "InputError",
    "InvalidRequestError",
    "JobFailedError",
    "LeaseLostError",
    "LedgerError",
    "NotFoundError",
    "ReconciliationError",
    "RunInProgressError",
    "ServiceError",
    "SubmitOutcomeUnknownError",
    "ThrottledError",
    "TransientServiceError",
]


def _rebuild(cls: type[CTCError], message: str, attrs: dict[str, Any]) -> CTCError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(attrs)
    return err


class CTCError(Exception):
    """Base class of every error ctc-spark raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword context; rebuild from the message and the attribute dict.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


class ConfigError(CTCError):
    """A setting is missing or invalid."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        where = " ".join(part for part in (f"key '{key}'" if key else "", f"in {source}" if source else "") if part)
        super().__init__(f"{message} ({where})" if where else message)
        self.key = key
        self.source = source


class InputError(CTCError):
    """Input data is unusable as a whole (a missing column, an unreadable path, too few documents)."""

    def __init__(self, message: str, *, source: str | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.column = column


class ServiceError(CTCError):
    """The Language service answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        inner_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        prefix = f"HTTP {status}" if status is not None else "service error"
        codes = "/".join(c for c in (code, inner_code) if c)
        super().__init__(f"{prefix}{' ' + codes if codes else ''}: {message}")
        self.status = status
        self.code = code
        self.inner_code = inner_code
        self.request_id = request_id
        self.detail = message


class TransientServiceError(ServiceError):
    """A failure that may pass: 5xx, a timeout or a dropped connection."""


class ThrottledError(TransientServiceError):
    """The quota is exhausted for now (429); `retry_after` says how long to wait, in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AuthenticationError(ServiceError):
    """The service refused the credentials (401/403)."""


class NotFoundError(ServiceError):
    """The project, deployment, model or job does not exist (404)."""


class ConflictError(ServiceError):
    """The request conflicts with the resource's state (409)."""


class InvalidRequestError(ServiceError):
    """The service rejected the request itself (400 or another 4xx)."""


class SubmitOutcomeUnknownError(CTCError):
    """A submit was sent but its answer was lost; a job may or may not exist for it."""

    def __init__(self, message: str, *, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class JobFailedError(CTCError):
    """A long-running operation ended in a failed or cancelled state."""

    def __init__(self, message: str, *, job_id: str | None = None, status: str | None = None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status


class DeadlineExceededError(CTCError):
    """An operation did not finish before its deadline."""

    def __init__(self, message: str, *, deadline_seconds: float | None = None) -> None:
        super().__init__(message)
        self.deadline_seconds = deadline_seconds


class LedgerError(CTCError):
    """The driver's ledger service failed to commit job ids, or an executor could not reach it."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RunInProgressError(CTCError):
    """Another live run holds the lease on the same tables, project and deployment."""

    def __init__(self, message: str, *, run_id: str | None = None, started_at: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.started_at = started_at


class LeaseLostError(CTCError):
    """This run no longer holds its lease (another run took it over, or it was not renewed in time): it stops
    submitting and writing, and fails."""

    def __init__(
        self,
        message: str,
        *,
        tables: str | None = None,
        project: str | None = None,
        deployment: str | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.tables = tables
        self.project = project
        self.deployment = deployment
        self.run_id = run_id


class BudgetExceededError(CTCError):
    """A run's plan would bill more text records than the cap allows; nothing was sent."""

    def __init__(self, message: str, *, planned: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.planned = planned
        self.limit = limit


class ReconciliationError(CTCError):
    """A run's counts do not reconcile: some documents have no terminal row, or have several."""

    def __init__(self, message: str, *, expected: int | None = None, found: int | None = None) -> None:
        super().__init__(message)
        self.expected = expected
        self.found = found
