"""Pure wire logic: build requests, parse responses and error bodies into models and the error tree."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from ctc_spark.config import origin
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
from ctc_spark.service.vocabulary import JobStatus, TaskKind, check_name, job_id_from_location, project_kind

__all__ = [
    "AUTHORING_VERSIONS",
    "RUNTIME_VERSIONS",
    "Call",
    "authoring_url",
    "error_from_response",
    "foreign_origin",
    "job_url",
    "on_endpoint",
    "parse_datetime",
    "parse_job",
    "retry_after",
    "segment",
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
# Query parameters of a nextLink kept when its job is polled on the configured endpoint instead.
_PAGING = frozenset({"$top", "$skip", "top", "skip", "showStats", "$maxpagesize", "maxpagesize"})
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


def foreign_origin(endpoint: str, url: str) -> str | None:
    """`scheme://host:port` of `url` when it is a URL on another origin than `endpoint`, else None."""
    if "://" not in url:
        return None
    found = origin(url)
    if found is not None and found == origin(endpoint):
        return None
    return f"{found[0]}://{found[1]}:{found[2]}" if found else "an unusable URL"


def job_url(endpoint: str, api_version: str, job: str) -> str:
    """The poll URL for a job id, or for an Operation-Location or nextLink on the endpoint's origin.

    A URL on any other origin (from the service or from a table) is never used: the job is polled by its id
    (the URL's last path segment, with its paging parameters) on `endpoint`, so the key goes nowhere else.
    """
    if "://" not in job:
        return f"{endpoint.rstrip('/')}/language/analyze-text/jobs/{segment(job)}?api-version={api_version}"
    if foreign_origin(endpoint, job) is None:
        return job if "api-version=" in job else with_query(job, {"api-version": api_version})
    paging = {k: v for k, v in parse_qsl(urlsplit(job).query) if k in _PAGING}
    return with_query(job_url(endpoint, api_version, unquote(job_id_from_location(job))), paging)


def on_endpoint(endpoint: str, url: str) -> str:
    """`url` when it is on `endpoint`'s origin, else its path and query on `endpoint` (never another host)."""
    if foreign_origin(endpoint, url) is None and "://" in url:
        return url
    parts, base = urlsplit(url), urlsplit(endpoint)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))


def segment(text: str) -> str:
    """`text` percent-encoded as one URL path segment: a name or id can never add a segment or a query."""
    # `.` and `..` are resolved by URL parsers, so a segment made only of dots has them encoded too.
    return quote(text, safe="") if text.strip(".") else text.replace(".", "%2E")


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
    parameters: dict[str, Any] = {
        "projectName": check_name(project, "project"),
        "deploymentName": check_name(deployment, "deployment"),
    }
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


def retry_after(headers: Mapping[str, str], *, now: datetime | None = None, cap: float | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or an RFC 9110 HTTP date), retry-after-ms or x-ms-retry-after-ms.

    A value that is not a finite, non-negative number or a date is ignored (the next header is tried); the
    result is at most `cap`, so no server can park a caller for a day.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    wait = _seconds(lower.get("retry-after"), 1.0)
    if wait is None:
        wait = _http_date_wait(lower.get("retry-after"), now)
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if wait is None:
            wait = _seconds(lower.get(name), 0.001)
    if wait is None:
        return None
    return min(wait, cap) if cap is not None else wait


def _seconds(text: str | None, unit: float) -> float | None:
    try:
        value = float(text) if text else math.nan
    except ValueError:
        return None
    return value * unit if math.isfinite(value) and value >= 0 else None


def _http_date_wait(text: str | None, now: datetime | None) -> float | None:
    try:
        when = parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    # RFC 9110 dates are always GMT; `-0000` parses to a naive datetime.
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], *, max_wait: float | None = None
) -> ServiceError:
    """The typed error for a non-success answer; never includes request headers (and so never the key).

    A 429's `retry_after` is at most `max_wait` seconds.
    """
    code, inner, message = _error_fields(body)
    lower = {k.lower(): v for k, v in headers.items()}
    request_id = lower.get("apim-request-id") or lower.get("x-ms-request-id") or lower.get("x-request-id")
    kwargs: dict[str, Any] = {"status": status, "code": code, "inner_code": inner, "request_id": request_id}
    if status == 429:
        return ThrottledError(message, retry_after=retry_after(headers, cap=max_wait), **kwargs)
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
