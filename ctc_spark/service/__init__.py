"""ctc-spark's own thin client for the Azure AI Language custom text classification REST API, on httpx."""

from __future__ import annotations

from ctc_spark.service.authoring import AuthoringClient
from ctc_spark.service.lro import wait_for_operation
from ctc_spark.service.models import (
    AnalyzeDocument,
    AnalyzeJob,
    CallStats,
    ClassScore,
    DocumentResult,
    SubmittedJob,
    is_terminal,
)
from ctc_spark.service.retry import RetryPolicy
from ctc_spark.service.runtime import AsyncRuntimeClient, RuntimeClient
from ctc_spark.service.transport import RateLimiter
from ctc_spark.service.vocabulary import JobStatus, TaskKind

__all__ = [
    "AnalyzeDocument",
    "AnalyzeJob",
    "AsyncRuntimeClient",
    "AuthoringClient",
    "CallStats",
    "ClassScore",
    "DocumentResult",
    "JobStatus",
    "RateLimiter",
    "RetryPolicy",
    "RuntimeClient",
    "SubmittedJob",
    "TaskKind",
    "is_terminal",
    "wait_for_operation",
]
