"""The senders: each status and transport error mapped, retried or raised, and the limiter asked first."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from service_fakes import DOCS, KEY, LOC, _client, _error, _settings

from ctc_spark.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    SubmitOutcomeUnknownError,
    TransientServiceError,
)
from ctc_spark.service import AsyncRuntimeClient, RetryPolicy


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, _error(400, "InvalidArgument", "InvalidDocumentBatch"), InvalidRequestError),
        (401, _error(401, "401"), AuthenticationError),
        (403, _error(403, "403"), AuthenticationError),
        (404, _error(404, "NotFound"), NotFoundError),
        (409, _error(409, "Conflict"), ConflictError),
    ],
)
def test_permanent_errors_raise_at_once_with_context(status: int, error: httpx.Response, kind: type) -> None:
    calls = []
    client, _ = _client(lambda r: calls.append(r) or error)
    with pytest.raises(kind) as info:
        client.get_job("job-1")
    assert len(calls) == 1 and info.value.status == status and info.value.request_id == "req-9"
    assert KEY not in str(info.value)
    if status == 400:
        assert info.value.inner_code == "InvalidDocumentBatch"
    if status == 401:
        assert "AZURE_LANGUAGE_KEY" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_errors_back_off_then_give_up_after_max_attempts(status: int) -> None:
    calls = []
    client, waits = _client(lambda r: calls.append(r) or _error(status, "Server"))
    with pytest.raises(TransientServiceError):
        client.get_job("job-1")
    assert len(calls) == 4 and len(waits) == 3
    assert waits == sorted(waits)  # exponential with the same jitter draw


def test_connect_errors_retry_but_a_lost_submit_answer_does_not() -> None:
    calls: list[str] = []

    def connect_then_ok(request: httpx.Request) -> httpx.Response:
        calls.append("c")
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(202, headers={"Operation-Location": LOC})

    client, _ = _client(connect_then_ok)
    assert client.submit(DOCS, project="p", deployment="d", kind="single").job_id == "job-1"
    assert len(calls) == 2
    for exc in (httpx.ReadTimeout, httpx.RemoteProtocolError):
        sent: list[str] = []

        def lost(request: httpx.Request, exc: type = exc, sent: list[str] = sent) -> httpx.Response:
            sent.append("s")
            raise exc("gone", request=request)

        client, _ = _client(lost)
        with pytest.raises(SubmitOutcomeUnknownError):
            client.submit(DOCS, project="p", deployment="d", kind="single")
        assert sent == ["s"]
        with pytest.raises(TransientServiceError):
            client.get_job("job-1")  # a GET is safe to repeat
        assert len(sent) == 5


def test_async_client_asks_the_limiter_before_every_attempt() -> None:
    events: list[str] = []

    class Limiter:
        async def acquire(self) -> None:
            events.append("acquire")

        def on_throttled(self, retry_after: float | None) -> None:
            events.append(f"throttled {retry_after}")

        def on_success(self) -> None:
            events.append("ok")

    answers = iter(
        [_error(429, "429", headers={"Retry-After": "0"}), httpx.Response(202, headers={"Operation-Location": LOC})]
    )

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    async def go() -> str:
        client = AsyncRuntimeClient(
            _settings().primary,
            _settings(),
            transport=httpx.MockTransport(handler),
            limiter=Limiter(),
            policy=RetryPolicy(base_seconds=0.0),
        )
        try:
            return (await client.submit(DOCS, project="p", deployment="d", kind="single")).job_id
        finally:
            await client.aclose()

    assert asyncio.run(go()) == "job-1"
    assert events == ["acquire", "throttled 0.0", "acquire", "ok"]
