"""Retry-After: seconds or any RFC 9110 HTTP date, garbage ignored, every wait capped by service.max_retry_seconds."""

from __future__ import annotations

import asyncio
import types
from datetime import datetime, timezone

import httpx
import pytest
from service_fakes import _client, _error, _job

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.engine.task.throttle import AdaptiveLimiter
from ctc_spark.service import AnalyzeDocument, AsyncRuntimeClient, RetryPolicy, RuntimeClient
from ctc_spark.service.wire import retry_after

EP = "https://res.cognitiveservices.azure.com"
LOC = f"{EP}/language/analyze-text/jobs/job-1?api-version=2023-04-01"
CAP = 100.0
VALUES = [
    "120",
    "Wed, 21 Oct 2015 07:28:00 GMT",
    "Wed, 21 Oct 2015 07:28:00 -0000",
    "Wed, 21 Oct 2015 07:28:00 +0000",
    "86400",
    "inf",
    "-inf",
    "abc",
    "nan",
    "-5",
    "1e999",
    "",
]
JOB = {"jobId": "job-1", "status": "running", "tasks": {}}


def _service() -> ServiceSettings:
    return ServiceSettings(resources=(ResourceSettings(EP, Secret("k")),), max_retry_seconds=CAP)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 100.0),
        ("30", 30.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 60.0),
        ("Wed, 21 Oct 2015 07:28:00 +0000", 60.0),
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 60.0),  # RFC 850, obsolete but allowed by RFC 9110
        ("Wed Oct 21 07:28:00 2015", 60.0),  # asctime
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # in the past
        ("86400", 100.0),
        ("inf", None),
        ("abc", None),
        ("nan", None),
        ("-5", None),
    ],
)
def test_retry_after_parses_seconds_and_dates_and_caps(value: str, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 27, tzinfo=timezone.utc)
    assert retry_after({"Retry-After": value}, now=now, cap=CAP) == expected


def test_garbage_falls_back_to_the_millisecond_headers() -> None:
    assert retry_after({"Retry-After": "abc", "retry-after-ms": "1500"}, cap=CAP) == 1.5
    assert retry_after({"retry-after-ms": "inf"}, cap=CAP) is None
    assert retry_after({"x-ms-retry-after-ms": "99999999"}, cap=CAP) == CAP


@pytest.mark.parametrize("value", VALUES)
def test_a_429_with_any_retry_after_never_raises_and_every_wait_is_capped(value: str) -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": value}, json={"error": {"code": "429"}})])
    waits: list[float] = []
    client = RuntimeClient(
        _service().primary,
        _service(),
        transport=httpx.MockTransport(lambda r: next(answers, httpx.Response(200, json=JOB))),
        sleep=waits.append,
        clock=lambda: sum(waits),
    )
    assert client.get_job("job-1").status == "running"
    assert len(waits) == 1 and 0.0 <= waits[0] <= CAP


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("value", VALUES)
def test_the_engine_throttle_never_pauses_longer_than_the_cap(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    limiter = AdaptiveLimiter(50.0, clock=clock, sleep=clock.sleep)
    answers = iter([httpx.Response(429, headers={"Retry-After": value}, json={"error": {"code": "429"}})])

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(202, headers={"Operation-Location": LOC}))

    async def go() -> str:
        client = AsyncRuntimeClient(
            _service().primary,
            _service(),
            transport=httpx.MockTransport(handler),
            limiter=limiter,
            policy=RetryPolicy(max_seconds=CAP, base_seconds=0.0),
        )
        try:
            return (await client.submit([AnalyzeDocument("0", "t")], project="p", deployment="d", kind="single")).job_id
        finally:
            await client.aclose()

    # The client's retry wait, in the transport module only: patching `asyncio.sleep` itself would also reach
    # other threads' event loops in the same process (an emulator's server, in a full run), which then spin.
    only_here = types.SimpleNamespace(**{k: getattr(asyncio, k) for k in dir(asyncio) if not k.startswith("__")})
    only_here.sleep = clock.sleep
    monkeypatch.setattr("ctc_spark.service.transport.asyncio", only_here)
    assert asyncio.run(go()) == "job-1"
    assert clock.slept and all(0.0 <= s <= CAP for s in clock.slept), clock.slept


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Retry-After": "3"}, 3.0), ({"retry-after-ms": "1500"}, 1.5), ({"x-ms-retry-after-ms": "250"}, 0.25)],
)
def test_throttling_honours_retry_after_headers(headers: dict[str, str], expected: float) -> None:
    answers = iter([_error(429, "429", headers=headers), httpx.Response(200, json=_job())])
    client, waits = _client(lambda r: next(answers))
    client.get_job("job-1")
    assert waits and expected <= waits[0] <= expected + 1.0
    assert (client.stats.throttled, client.stats.retries) == (1, 1)


def test_retry_after_http_date() -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert retry_after({"Retry-After": "Thu, 01 Jan 2026 00:00:10 GMT"}, now=now) == 10.0
    assert retry_after({}) is None
