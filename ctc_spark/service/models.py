"""Typed results of the runtime API: submitted jobs, job states and per-document results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ctc_spark.service.vocabulary import JobStatus, TaskKind

__all__ = [
    "AnalyzeDocument",
    "AnalyzeJob",
    "CallStats",
    "ClassScore",
    "DocumentResult",
    "SubmittedJob",
    "TaskKind",
    "is_terminal",
]


def is_terminal(status: str | None) -> bool:
    """True for a service status after which the job's state no longer changes."""
    parsed = JobStatus.parse(status)
    return parsed is not None and (parsed.is_success or parsed.is_failure)


@dataclass(frozen=True)
class AnalyzeDocument:
    """One document to classify."""

    id: str
    text: str
    language: str = "en"


@dataclass(frozen=True)
class SubmittedJob:
    """An accepted analyze job: its id and the URL to poll."""

    job_id: str
    operation_location: str
    submitted_at: datetime


@dataclass(frozen=True)
class ClassScore:
    """A class and its confidence score (0-1)."""

    category: str
    confidence: float


@dataclass(frozen=True)
class DocumentResult:
    """A document's classes, or its error (then `classes` is empty)."""

    id: str
    classes: tuple[ClassScore, ...] = ()
    warnings: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    characters: int | None = None
    transactions: int | None = None

    @property
    def is_error(self) -> bool:
        return self.error_code is not None


@dataclass(frozen=True)
class AnalyzeJob:
    """The state of an analyze job; documents are present once it is terminal."""

    job_id: str
    status: str
    created: datetime | None = None
    last_updated: datetime | None = None
    expires: datetime | None = None
    documents: tuple[DocumentResult, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()
    statistics: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return is_terminal(self.status)


@dataclass
class CallStats:
    """Counters of what a client sent and what came back (mutable, picklable)."""

    requests: int = 0
    submits: int = 0
    polls: int = 0
    cancels: int = 0
    throttled: int = 0
    retries: int = 0
    transient_errors: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
