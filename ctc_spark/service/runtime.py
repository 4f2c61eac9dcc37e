"""Runtime (prediction) clients: submit, poll and cancel analyze-text jobs, sync and async."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import httpx

from ctc_spark.config import ResourceSettings, ServiceSettings
from ctc_spark.errors import ConfigError, InvalidRequestError
from ctc_spark.service.models import AnalyzeDocument, AnalyzeJob, CallStats, SubmittedJob
from ctc_spark.service.retry import RetryPolicy
from ctc_spark.service.transport import AsyncSender, RateLimiter, SyncSender
from ctc_spark.service.vocabulary import TaskKind, job_id_from_location
from ctc_spark.service.wire import (
    RUNTIME_VERSIONS,
    Call,
    foreign_origin,
    job_url,
    parse_job,
    submit_call,
    with_query,
)

__all__ = ["AsyncRuntimeClient", "RuntimeClient"]

_PAGE = 25
log = logging.getLogger(__name__)


def _version(service: ServiceSettings) -> str:
    if service.runtime_api_version not in RUNTIME_VERSIONS:
        raise ConfigError(
            f"unsupported runtime api-version {service.runtime_api_version!r}; use one of {', '.join(RUNTIME_VERSIONS)}",
            key="service.runtime_api_version",
        )
    return service.runtime_api_version


def _submitted(response: httpx.Response) -> SubmittedJob:
    location = response.headers.get("operation-location")
    if not location:
        raise InvalidRequestError(
            "the service accepted the job but sent no Operation-Location", status=response.status_code
        )
    return SubmittedJob(job_id_from_location(location), location, datetime.now(timezone.utc))


class _Pinned:
    """Job URLs on the configured endpoint only; a URL naming another origin is logged once, then ignored."""

    def __init__(self, endpoint: str, version: str) -> None:
        self.endpoint, self.version, self._warned = endpoint, version, False

    def url(self, job: str) -> str:
        other = foreign_origin(self.endpoint, job)
        if other is not None and not self._warned:
            self._warned = True
            log.warning(
                "a job URL names %s, not this resource's endpoint %s; polling by job id on the endpoint instead",
                other,
                self.endpoint,
            )
        return job_url(self.endpoint, self.version, job)

    def poll(self, job: str, show_stats: bool) -> str:
        return with_query(self.url(job), {"$top": _PAGE, "showStats": "true" if show_stats else None})

    def cancel(self, job: str) -> str:
        return self.url(job).replace("?", ":cancel?", 1)


def _merge_page(first: dict[str, Any], page: dict[str, Any]) -> None:
    """Append a nextLink page's documents and errors to the first page's task results."""
    target = ((first.get("tasks") or {}).get("items") or [{}])[0].get("results")
    for item in (page.get("tasks") or {}).get("items") or []:
        results = item.get("results") or {}
        if target is not None:
            target.setdefault("documents", []).extend(results.get("documents") or [])
            target.setdefault("errors", []).extend(results.get("errors") or [])


class RuntimeClient:
    """Synchronous runtime client on one httpx.Client."""

    def __init__(
        self,
        resource: ResourceSettings,
        service: ServiceSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        stats: CallStats | None = None,
        credential: Any = None,
        policy: RetryPolicy | None = None,
        **sender: Any,
    ) -> None:
        self.version = _version(service)
        self._endpoint = resource.endpoint
        self._urls = _Pinned(resource.endpoint, self.version)
        self._sender = SyncSender(
            resource, service, transport=transport, stats=stats, credential=credential, policy=policy, **sender
        )
        self.stats = self._sender.stats

    def __repr__(self) -> str:
        return f"RuntimeClient(endpoint={self._endpoint!r}, api_version={self.version!r})"

    def submit(
        self,
        documents: Sequence[AnalyzeDocument],
        *,
        project: str,
        deployment: str,
        kind: TaskKind,
        display_name: str | None = None,
        logging_opt_out: bool = True,
    ) -> SubmittedJob:
        """Submit one job. Raises SubmitOutcomeUnknownError when the answer was lost after sending."""
        call = submit_call(
            self._endpoint,
            self.version,
            documents,
            project=project,
            deployment=deployment,
            kind=kind,
            display_name=display_name,
            logging_opt_out=logging_opt_out,
        )
        job = _submitted(self._sender.send(call, idempotent=False))
        self.stats.submits += 1
        return job

    def get_job(self, job: str, *, show_stats: bool = False, expected_ids: Sequence[str] | None = None) -> AnalyzeJob:
        """The job's state; all result pages are fetched when it is done."""
        body = self._sender.send(Call("GET", self._urls.poll(job, show_stats))).json()
        self.stats.polls += 1
        while body.get("nextLink"):
            link = self._urls.url(str(body.pop("nextLink")))
            page = self._sender.send(Call("GET", link)).json()
            _merge_page(body, page)
            body["nextLink"] = page.get("nextLink")
        return parse_job(body, expected_ids)

    def cancel(self, job: str) -> None:
        """Ask the service to cancel a job (it does not wait)."""
        self._sender.send(Call("POST", self._urls.cancel(job)), idempotent=True)  # cancelling twice is harmless
        self.stats.cancels += 1

    def close(self) -> None:
        self._sender.close()

    def __enter__(self) -> RuntimeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRuntimeClient:
    """Asynchronous runtime client on one httpx.AsyncClient; build one per executor partition."""

    def __init__(
        self,
        resource: ResourceSettings,
        service: ServiceSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        limiter: RateLimiter | None = None,
        stats: CallStats | None = None,
        credential: Any = None,
        policy: RetryPolicy | None = None,
        **sender: Any,
    ) -> None:
        self.version = _version(service)
        self._endpoint = resource.endpoint
        self._urls = _Pinned(resource.endpoint, self.version)
        self._sender = AsyncSender(
            resource,
            service,
            transport=transport,
            limiter=limiter,
            stats=stats,
            credential=credential,
            policy=policy,
            **sender,
        )
        self.stats = self._sender.stats

    def __repr__(self) -> str:
        return f"AsyncRuntimeClient(endpoint={self._endpoint!r}, api_version={self.version!r})"

    async def submit(
        self,
        documents: Sequence[AnalyzeDocument],
        *,
        project: str,
        deployment: str,
        kind: TaskKind,
        display_name: str | None = None,
        logging_opt_out: bool = True,
    ) -> SubmittedJob:
        """Submit one job. Raises SubmitOutcomeUnknownError when the answer was lost after sending."""
        call = submit_call(
            self._endpoint,
            self.version,
            documents,
            project=project,
            deployment=deployment,
            kind=kind,
            display_name=display_name,
            logging_opt_out=logging_opt_out,
        )
        job = _submitted(await self._sender.send(call, idempotent=False))
        self.stats.submits += 1
        return job

    async def get_job(
        self, job: str, *, show_stats: bool = False, expected_ids: Sequence[str] | None = None
    ) -> AnalyzeJob:
        """The job's state; all result pages are fetched when it is done."""
        body = (await self._sender.send(Call("GET", self._urls.poll(job, show_stats)))).json()
        self.stats.polls += 1
        while body.get("nextLink"):
            link = self._urls.url(str(body.pop("nextLink")))
            page = (await self._sender.send(Call("GET", link))).json()
            _merge_page(body, page)
            body["nextLink"] = page.get("nextLink")
        return parse_job(body, expected_ids)

    async def cancel(self, job: str) -> None:
        """Ask the service to cancel a job (it does not wait)."""
        await self._sender.send(Call("POST", self._urls.cancel(job)), idempotent=True)  # cancelling twice is harmless
        self.stats.cancels += 1

    async def aclose(self) -> None:
        await self._sender.aclose()

    async def __aenter__(self) -> AsyncRuntimeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
