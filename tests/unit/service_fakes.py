"""Fakes for the service client's unit tests: settings, a RuntimeClient on httpx.MockTransport, answer bodies.

Imported by the test files in tests/unit/service (tests/unit is on sys.path, beside its conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.service import AnalyzeDocument, RetryPolicy, RuntimeClient

__all__ = ["DOCS", "EP", "KEY", "LOC", "_client", "_error", "_job", "_settings"]

KEY = "very-secret-key-123"
EP = "https://res.cognitiveservices.azure.com"
LOC = f"{EP}/language/analyze-text/jobs/job-1?api-version=2023-04-01"
DOCS = [AnalyzeDocument("a", "alpha text"), AnalyzeDocument("b", "beta text")]


def _settings(**kw: object) -> ServiceSettings:
    return ServiceSettings(resources=(ResourceSettings(EP, Secret(KEY)),), **kw)  # type: ignore[arg-type]


def _client(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> tuple[RuntimeClient, list[float]]:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)

    policy = RetryPolicy(max_attempts=4, max_seconds=60, base_seconds=0.01, cap_seconds=0.05)
    client = RuntimeClient(
        _settings().primary,
        _settings(**kw),
        transport=httpx.MockTransport(handler),
        policy=policy,
        rand=lambda: 0.5,
        sleep=sleep,
        clock=lambda: sum(waits),
    )
    return client, waits


def _error(status: int, code: str, inner: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    error: dict[str, object] = {"code": code, "message": f"{code} happened"}
    if inner:
        error["innererror"] = {"code": inner, "message": "inner detail"}
    return httpx.Response(status, json={"error": error}, headers={"apim-request-id": "req-9", **(headers or {})})


def _job(status: str = "succeeded", **extra: object) -> dict[str, object]:
    results = {
        "documents": [
            {
                "id": "a",
                "class": [{"category": "x", "confidenceScore": 0.2}, {"category": "y", "confidenceScore": 0.7}],
                "warnings": [],
                "statistics": {"charactersCount": 10, "transactionsCount": 1},
            }
        ],
        "errors": [
            {
                "id": "b",
                "error": {
                    "code": "InvalidArgument",
                    "message": "Invalid document in request.",
                    "innererror": {"code": "InvalidDocument", "message": "Document text is empty."},
                },
            }
        ],
    }
    return {
        "jobId": "job-1",
        "status": status,
        "createdDateTime": "2022-06-13T16:24:26.1234567Z",
        "errors": [],
        "tasks": {
            "items": [
                {
                    "kind": "CustomMultiLabelClassificationLROResults",
                    "taskName": "0",
                    "status": status,
                    "results": results,
                }
            ]
        },
        **extra,
    }
