"""The one place httpx exceptions become ctc-spark errors, and the retry loop shared by every client."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from ctc_spark.config import ResourceSettings, ServiceSettings, check_endpoint
from ctc_spark.errors import (
    CTCError,
    InvalidRequestError,
    SubmitOutcomeUnknownError,
    ThrottledError,
    TransientServiceError,
)
from ctc_spark.service.auth import Authenticator
from ctc_spark.service.models import CallStats
from ctc_spark.service.retry import RetryPolicy, retry_delay
from ctc_spark.service.wire import Call, error_from_response

__all__ = ["MAX_CONNECTIONS", "AsyncSender", "RateLimiter", "SyncSender", "settle", "translate"]

_USER_AGENT = "ctc-spark/0.1 httpx"
# Connections per resource of the async client. Keep requests in flight at or below it: httpx queues the rest,
# and its pool scans that queue on every request, so thousands queued burn the CPU the calls need.
MAX_CONNECTIONS = 100


class RateLimiter(Protocol):
    """What the engine's throttle offers the async client."""

    async def acquire(self) -> None: ...

    def on_throttled(self, retry_after: float | None) -> None: ...

    def on_success(self) -> None: ...


# One rule for calls that create something (an analyze-job POST, an authoring POST/PUT/PATCH): retry only when
# the answer proves nothing was created. The Azure REST API guidelines (microsoft/api-guidelines,
# azure/Guidelines.md, "Repeatability of requests") say every operation is naturally idempotent except POST
# that creates a resource or invokes an action, which is only safe to retry with OASIS Repeatable Requests
# headers (Repeatability-Request-ID); analyze-text does not offer them. A 429 is the service's rate limiter
# refusing the request before it runs (azure-core retries a POST 429 only when it carries Retry-After, for the
# same reason), and a connection that was never made sent nothing. azure-core also retries POST on 500/503/504;
# we do not: a gateway's 5xx or 408, a dropped connection or a read timeout can follow a job the service has
# already created and billed, so those end as SubmitOutcomeUnknownError and the engine records `unknown`.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_WRITES = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def translate(exc: httpx.HTTPError, call: Call, *, idempotent: bool) -> CTCError:
    """An httpx failure as a ctc-spark error; a non-idempotent call that may have been sent is 'outcome unknown'."""
    what = f"{call.method} {call.url.split('?', 1)[0]}"
    if not idempotent and not isinstance(exc, _NOT_SENT):
        return SubmitOutcomeUnknownError(
            f"{what} was sent but no answer came ({type(exc).__name__}); a job may or may not exist",
            cause=type(exc).__name__,
        )
    return TransientServiceError(f"{what} failed: {type(exc).__name__}: {exc}", code=type(exc).__name__)


def settle(error: CTCError, call: Call, *, idempotent: bool) -> CTCError:
    """A service answer's error, with a non-idempotent call's 5xx or 408 turned into 'outcome unknown'."""
    if idempotent or isinstance(error, ThrottledError) or not isinstance(error, TransientServiceError):
        return error
    return SubmitOutcomeUnknownError(
        f"{call.method} {call.url.split('?', 1)[0]} answered HTTP {error.status} ({error.detail[:200]}); the service "
        "may have acted on it before the answer was lost, so it is not sent again",
        cause=f"HTTP {error.status}",
    )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


class _Sender:
    """Shared state: settings, auth, retry policy, counters."""

    def __init__(
        self,
        resource: ResourceSettings,
        service: ServiceSettings,
        *,
        stats: CallStats | None,
        credential: Any,
        policy: RetryPolicy | None,
        rand: Callable[[], float] | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        check_endpoint(resource.endpoint, resource=resource.name, key="service.endpoint")
        self.origin = _origin(httpx.URL(resource.endpoint))
        self.resource = resource
        self.service = service
        self.stats = stats if stats is not None else CallStats()
        self.auth = Authenticator(resource, use_entra_id=service.use_entra_id, credential=credential)
        self.policy = policy or RetryPolicy(max_attempts=service.max_attempts, max_seconds=service.max_retry_seconds)
        self.rand = rand or random.random
        self.timeout = httpx.Timeout(service.timeout_seconds, connect=min(10.0, service.timeout_seconds))

    def headers(self, call: Call) -> dict[str, str]:
        """The call's headers with the credentials, once its URL is on this resource's endpoint.

        Raises:
            InvalidRequestError: the URL names another scheme, host or port (the clients pin every URL first,
                so this is the last line, checked with the parser that sends it).
        """
        if _origin(httpx.URL(call.url)) != self.origin:
            raise InvalidRequestError(f"refusing to send this resource's credentials to {_origin(httpx.URL(call.url))}")
        return {"Accept": "application/json", "User-Agent": _USER_AGENT, **self.auth.headers(), **call.headers}

    def outcome(self, response: httpx.Response, call: Call, *, idempotent: bool) -> CTCError | None:
        self.stats.by_status[response.status_code] = self.stats.by_status.get(response.status_code, 0) + 1
        if response.status_code < 400:
            return None
        cap = self.service.max_retry_seconds
        error = error_from_response(response.status_code, response.content, response.headers, max_wait=cap)
        if isinstance(error, ThrottledError):
            self.stats.throttled += 1
        return settle(error, call, idempotent=idempotent)

    def delay(self, error: CTCError, attempt: int, started: float) -> float | None:
        wait = retry_delay(error, attempt=attempt, elapsed=self.clock() - started, policy=self.policy, rand=self.rand)
        if wait is not None:
            self.stats.retries += 1
            if not isinstance(error, ThrottledError):
                self.stats.transient_errors += 1
        return wait


class SyncSender(_Sender):
    """Sends calls on one httpx.Client with retries."""

    def __init__(
        self,
        resource: ResourceSettings,
        service: ServiceSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        stats: CallStats | None = None,
        credential: Any = None,
        policy: RetryPolicy | None = None,
        rand: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(resource, service, stats=stats, credential=credential, policy=policy, rand=rand, clock=clock)
        self.http = httpx.Client(transport=transport, timeout=self.timeout)
        self.sleep = sleep

    def send(self, call: Call, *, idempotent: bool | None = None) -> httpx.Response:
        """The call's answer, retried by the rules above; `idempotent` defaults to False for POST, PUT, PATCH."""
        idempotent = call.method not in _WRITES if idempotent is None else idempotent
        started, attempt = self.clock(), 0
        while True:
            attempt += 1
            self.stats.requests += 1
            try:
                response = self.http.request(call.method, call.url, json=call.json, headers=self.headers(call))
                error = self.outcome(response, call, idempotent=idempotent)
            except httpx.HTTPError as exc:
                error, response = translate(exc, call, idempotent=idempotent), None
            if error is None and response is not None:
                return response
            assert error is not None
            wait = self.delay(error, attempt, started)
            if wait is None:
                raise error
            self.sleep(wait)

    def close(self) -> None:
        self.http.close()


class AsyncSender(_Sender):
    """Sends calls on one httpx.AsyncClient with retries, asking the rate limiter before every attempt."""

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
        rand: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(resource, service, stats=stats, credential=credential, policy=policy, rand=rand)
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS // 2)
        self.http = httpx.AsyncClient(transport=transport, timeout=self.timeout, limits=limits)
        self.limiter = limiter

    async def send(self, call: Call, *, idempotent: bool | None = None) -> httpx.Response:
        """The call's answer, retried by the rules above; `idempotent` defaults to False for POST, PUT, PATCH."""
        idempotent = call.method not in _WRITES if idempotent is None else idempotent
        started, attempt = self.clock(), 0
        while True:
            attempt += 1
            if self.limiter is not None:
                await self.limiter.acquire()
            self.stats.requests += 1
            try:
                response = await self.http.request(call.method, call.url, json=call.json, headers=self.headers(call))
                error = self.outcome(response, call, idempotent=idempotent)
            except httpx.HTTPError as exc:
                error, response = translate(exc, call, idempotent=idempotent), None
            if self.limiter is not None:
                if isinstance(error, ThrottledError):
                    self.limiter.on_throttled(error.retry_after)
                elif error is None:
                    self.limiter.on_success()
            if error is None and response is not None:
                return response
            assert error is not None
            wait = self.delay(error, attempt, started)
            if wait is None:
                raise error
            await asyncio.sleep(wait)

    async def aclose(self) -> None:
        await self.http.aclose()
