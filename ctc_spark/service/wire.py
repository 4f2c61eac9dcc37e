"""Pure wire logic: build requests, parse responses and error bodies into models and the error tree."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ctc_spark.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    ServiceError,
    ThrottledError,
    TransientServiceError,
)
from ctc_spark.service.models import AnalyzeDocument, AnalyzeJob, ClassScore, DocumentResult
from ctc_spark.service.vocabulary import JobStatus, TaskKind, project_kind

__all__ = [
    "AUTHORING_VERSIONS",
    "RUNTIME_VERSIONS",
    "Call",
    "authoring_url",
    "error_from_response",
    "job_url",
    "parse_datetime",
    "parse_job",
    "retry_after",
    "submit_call",
    "with_query",
]

# Every analyze-text version whose custom-classification request and result shape is that of 2022-05-01;
# 2026-05-15-preview is the default of azure-ai-textanalytics 6.x.
RUNTIME_VERSIONS = (
    "2022-05-01",
    "2022-10-01-preview",
    "2023-04-01",
    "2023-04-15-preview",
    "2023-11-15-preview",
    "2024-11-01",
    "2024-11-15-preview",
    "2025-05-15-preview",
    "2025-11-01",
    "2025-11-15-preview",
    "2026-05-15-preview",
)
AUTHORING_VERSIONS = (
    "2022-05-01",
    "2022-10-01-preview",
    "2023-04-01",
    "2023-04-15-preview",
    "2023-11-15-preview",
    "2024-11-15-preview",
    "2025-05-15-preview",
    "2025-11-15-preview",
)
_AUTH_HINT = (
    " Check AZURE_LANGUAGE_KEY (or the key in your settings) belongs to this resource, that "
    "AZURE_LANGUAGE_ENDPOINT is the resource's endpoint, and that the key has not been regenerated."
)


@dataclass(frozen=True)
class Call:
    """One HTTP request to make."""

    method: str
    url: str
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


def with_query(url: str, params: Mapping[str, Any]) -> str:
    """`url` with the given query parameters set (None removes one)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in params.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = str(value)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe="$"), parts.fragment))


def job_url(endpoint: str, api_version: str, job: str) -> str:
    """The poll URL for a job id or an Operation-Location."""
    if job.startswith(("http://", "https://")):
        return job if "api-version=" in job else with_query(job, {"api-version": api_version})
    return f"{endpoint.rstrip('/')}/language/analyze-text/jobs/{job}?api-version={api_version}"


def submit_call(
    endpoint: str,
    api_version: str,
    documents: Sequence[AnalyzeDocument],
    *,
    project: str,
    deployment: str,
    kind: TaskKind,
    display_name: str | None = None,
    logging_opt_out: bool = True,
) -> Call:
    """The POST that submits one analyze job, shaped as the official SDK sends it."""
    parameters: dict[str, Any] = {"projectName": project, "deploymentName": deployment}
    if logging_opt_out:
        parameters["loggingOptOut"] = True
    body: dict[str, Any] = {
        "analysisInput": {"documents": [{"id": d.id, "text": d.text, "language": d.language} for d in documents]},
        "tasks": [{"taskName": "0", "kind": project_kind(kind), "parameters": parameters}],
    }
    if display_name:
        body["displayName"] = display_name
    return Call("POST", f"{endpoint.rstrip('/')}/language/analyze-text/jobs?api-version={api_version}", body)


def authoring_url(endpoint: str, api_version: str, path: str, query: Mapping[str, Any] | None = None) -> str:
    """A URL under /language/authoring/analyze-text/projects."""
    base = f"{endpoint.rstrip('/')}/language/authoring/analyze-text/projects{path}"
    return with_query(base, {"api-version": api_version, **(query or {})})


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from the service's ISO text (7 fractional digits and `Z` included)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    head, dot, tail = text.partition(".")
    if dot:
        digits = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP-date), retry-after-ms or x-ms-retry-after-ms."""
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if lower.get(name):
            try:
                return max(0.0, float(lower[name]) / 1000.0)
            except ValueError:
                continue
    return None


def error_from_response(status: int, body: bytes, headers: Mapping[str, str]) -> ServiceError:
    """The typed error for a non-success answer; never includes request headers (and so never the key)."""
    code, inner, message = _error_fields(body)
    lower = {k.lower(): v for k, v in headers.items()}
    request_id = lower.get("apim-request-id") or lower.get("x-ms-request-id") or lower.get("x-request-id")
    kwargs: dict[str, Any] = {"status": status, "code": code, "inner_code": inner, "request_id": request_id}
    if status == 429:
        return ThrottledError(message, retry_after=retry_after(headers), **kwargs)
    if status in (401, 403):
        return AuthenticationError(message + _AUTH_HINT, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 409:
        return ConflictError(message, **kwargs)
    if status >= 500 or status == 408:
        return TransientServiceError(message, **kwargs)
    return InvalidRequestError(message, **kwargs)


def _error_fields(body: bytes) -> tuple[str | None, str | None, str]:
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        return None, None, body[:300].decode("utf-8", "replace") or "no error body"
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, None, str(payload)[:300] or "no error body"
    inner = error.get("innererror") or error.get("innerError") or {}
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    message = str(error.get("message") or "")
    if isinstance(inner, dict) and inner.get("message") and inner.get("message") != message:
        message = f"{message} ({inner['message']})"
    return error.get("code"), inner_code, message or "no message"


def parse_job(body: Mapping[str, Any], expected_ids: Sequence[str] | None = None) -> AnalyzeJob:
    """An AnalyzeJob from a poll body; documents of a failed task come back as error rows.

    With `expected_ids`, every expected document appears exactly once: ones the service did not return get
    an error row (the job's error, or `MissingResult`), so no document is silently lost.
    """
    status = str(body.get("status") or "")
    job_errors = tuple(
        (str(e.get("code")), str(e.get("message"))) for e in body.get("errors") or [] if isinstance(e, dict)
    )
    docs: list[DocumentResult] = []
    stats: dict[str, Any] | None = None
    for item in (body.get("tasks") or {}).get("items") or []:
        results = item.get("results") if isinstance(item, dict) else None
        if not isinstance(results, dict):
            continue
        docs.extend(_document(d) for d in results.get("documents") or [])
        docs.extend(_document_error(e) for e in results.get("errors") or [])
        stats = results.get("statistics") or stats
    if expected_ids is not None and JobStatus.parse(status) is not JobStatus.FAILED:
        seen = {d.id for d in docs}
        code, message = job_errors[0] if job_errors else ("MissingResult", "the service returned no result")
        docs.extend(DocumentResult(i, error_code=code, error_message=message) for i in expected_ids if i not in seen)
    return AnalyzeJob(
        job_id=str(body.get("jobId") or ""),
        status=status,
        created=parse_datetime(body.get("createdDateTime")),
        last_updated=parse_datetime(body.get("lastUpdatedDateTime")),
        expires=parse_datetime(body.get("expirationDateTime")),
        documents=tuple(docs),
        errors=job_errors,
        statistics=stats,
    )


def _document(d: Mapping[str, Any]) -> DocumentResult:
    classes = tuple(
        ClassScore(str(c.get("category")), float(c.get("confidenceScore") or 0.0)) for c in d.get("class") or []
    )
    warnings = tuple(str(w.get("message", w)) if isinstance(w, dict) else str(w) for w in d.get("warnings") or [])
    stats = d.get("statistics") or {}
    return DocumentResult(
        id=str(d.get("id")),
        classes=tuple(sorted(classes, key=lambda c: -c.confidence)),
        warnings=warnings,
        characters=stats.get("charactersCount"),
        transactions=stats.get("transactionsCount"),
    )


def _document_error(e: Mapping[str, Any]) -> DocumentResult:
    error = e.get("error") or {}
    inner = error.get("innererror") or error.get("innerError") or {}
    code = inner.get("code") or error.get("code") or "UnknownError"
    message = inner.get("message") or error.get("message") or ""
    return DocumentResult(id=str(e.get("id")), error_code=str(code), error_message=str(message))
