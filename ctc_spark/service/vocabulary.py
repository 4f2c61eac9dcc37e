"""The Language service's vocabulary, written once: project kinds, job statuses, job ids, evaluation bodies.

`JobStatus` holds both sides of a job's life: the statuses the service reports (`notStarted`, `running`,
`succeeded`, ...) and the ones the engine writes to its `jobs` ledger (`submitted`, `expired`, `unknown`,
`rejected`, `fatal`). The emulator, the other side of the wire, keeps its own copy on purpose.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from ctc_spark.errors import ConfigError

__all__ = [
    "KINDS",
    "PROJECT_KINDS",
    "JobStatus",
    "TaskKind",
    "check_name",
    "evaluation_body",
    "evaluation_classes",
    "job_id_from_location",
    "project_kind",
]

TaskKind = Literal["single", "multi"]
KINDS: tuple[TaskKind, ...] = ("single", "multi")
PROJECT_KINDS: dict[str, str] = {
    "single": "CustomSingleLabelClassification",
    "multi": "CustomMultiLabelClassification",
}


def project_kind(kind: str) -> str:
    """The service's `projectKind` (and analyze task `kind`) for "single" or "multi".

    Raises:
        ValueError: any other kind.
    """
    try:
        return PROJECT_KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}") from None


class JobStatus(StrEnum):
    """A job's status, as the service reports it or as the engine records it in `jobs`."""

    # Reported by the service (analyze-text jobs and authoring operations).
    NOT_STARTED = "notStarted"
    RUNNING = "running"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    PARTIALLY_COMPLETED = "partiallyCompleted"
    PARTIALLY_SUCCEEDED = "partiallySucceeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # Written by the engine to its ledger.
    SUBMITTED = "submitted"  # committed before it is polled
    EXPIRED = "expired"  # still running after the job deadline
    UNKNOWN = "unknown"  # the submit's answer was lost: the service may have billed it
    REJECTED = "rejected"  # a 400 for the request: its documents get error rows at once
    FATAL = "fatal"  # the project or deployment is unusable: the run stops

    @classmethod
    def parse(cls, text: str | None) -> JobStatus | None:
        """The status for the service's text, in any case ("canceled" too); None for an unknown one."""
        key = (text or "").strip().lower()
        if key == "canceled":
            return cls.CANCELLED
        return next((s for s in cls if s.value.lower() == key), None)

    @property
    def is_success(self) -> bool:
        """The service finished the job and its results can be read."""
        return self in _SUCCESS

    @property
    def is_failure(self) -> bool:
        """The service ended the job without results."""
        return self in _FAILURE

    @property
    def is_active(self) -> bool:
        """The service is still working on it."""
        return self in _ACTIVE


_SUCCESS = frozenset({JobStatus.SUCCEEDED, JobStatus.PARTIALLY_COMPLETED, JobStatus.PARTIALLY_SUCCEEDED})
_FAILURE = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})
_ACTIVE = frozenset({JobStatus.NOT_STARTED, JobStatus.RUNNING, JobStatus.CANCELLING})


# The service's rule for project, deployment and model names: letters, digits, `_`, `.` and `-`, at most 50.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,50}")


def check_name(value: str, what: str) -> str:
    """`value` when it is a valid project, deployment or model name (`what` says which).

    Raises:
        ConfigError: other characters, more than 50 of them, none, or only dots (which a URL would resolve).
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value) or not value.strip("."):
        raise ConfigError(
            f"invalid {what} name {value!r}: use 1 to 50 letters, digits, '_', '.' or '-' (not only dots)"
        )
    return value


def job_id_from_location(location: str) -> str:
    """The job id: the last path segment of an Operation-Location (the query string dropped)."""
    return location.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def evaluation_body(summary: dict[str, Any]) -> dict[str, Any]:
    """The single- or multi-label part of an evaluation summary ({} when it has neither)."""
    return dict(
        summary.get("customSingleLabelClassificationEvaluation")
        or summary.get("customMultiLabelClassificationEvaluation")
        or {}
    )


def evaluation_classes(result: dict[str, Any]) -> tuple[list[str], list[str]]:
    """A per-document evaluation result's (expected, predicted) classes, single- or multi-label."""
    single = result.get("customSingleLabelClassificationResult")
    if single:
        return [single["expectedClass"]], [single["predictedClass"]]
    multi = result.get("customMultiLabelClassificationResult") or {}
    return list(multi.get("expectedClasses") or []), list(multi.get("predictedClasses") or [])
