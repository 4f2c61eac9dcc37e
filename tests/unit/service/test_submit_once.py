"""One rule for calls that create something: retried only when the answer proves nothing was created (429)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.errors import InvalidRequestError, SubmitOutcomeUnknownError
from ctc_spark.service import AnalyzeDocument, AsyncRuntimeClient, AuthoringClient, RetryPolicy, RuntimeClient

EP = "https://res.cognitiveservices.azure.com"
LOC = f"{EP}/language/analyze-text/jobs/job-1?api-version=2023-04-01"
DOCS = [AnalyzeDocument("0", "alpha text")]
KEY = "secret-key-xyz"
SERVICE = ServiceSettings(resources=(ResourceSettings(EP, Secret(KEY)),))
POLICY = RetryPolicy(max_attempts=4, max_seconds=60, base_seconds=0.0, cap_seconds=0.0)


def _status(code: int) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(code, json={"error": {"code": str(code), "message": "gateway says no"}})

    return answer


def _dropped(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)


def _read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


AMBIGUOUS = {
    "500": _status(500),
    "502": _status(502),
    "503": _status(503),
    "504": _status(504),
    "408": _status(408),
    "dropped after sending": _dropped,
    "read timeout": _read_timeout,
}


class _Counter:
    def __init__(self, first: Callable[[httpx.Request], httpx.Response]) -> None:
        self.first, self.posts = first, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            self.posts += 1
            if self.posts == 1:
                return self.first(request)
        return httpx.Response(202, headers={"Operation-Location": LOC})


@pytest.mark.parametrize("answer", list(AMBIGUOUS), ids=list(AMBIGUOUS))
def test_an_ambiguous_submit_answer_is_outcome_unknown_after_exactly_one_post(answer: str) -> None:
    counter = _Counter(AMBIGUOUS[answer])
    client = RuntimeClient(SERVICE.primary, SERVICE, transport=httpx.MockTransport(counter), policy=POLICY)
    with pytest.raises(SubmitOutcomeUnknownError) as info:
        client.submit(DOCS, project="p", deployment="d", kind="single")
    assert counter.posts == 1, f"a submit answered {answer} was sent again"
    assert "POST" in str(info.value) and KEY not in str(info.value)


@pytest.mark.parametrize("answer", list(AMBIGUOUS), ids=list(AMBIGUOUS))
def test_the_async_client_follows_the_same_rule(answer: str) -> None:
    counter = _Counter(AMBIGUOUS[answer])

    async def go() -> None:
        client = AsyncRuntimeClient(SERVICE.primary, SERVICE, transport=httpx.MockTransport(counter), policy=POLICY)
        try:
            await client.submit(DOCS, project="p", deployment="d", kind="single")
        finally:
            await client.aclose()

    with pytest.raises(SubmitOutcomeUnknownError):
        asyncio.run(go())
    assert counter.posts == 1


def test_a_429_proves_nothing_was_created_and_is_retried() -> None:
    counter = _Counter(lambda r: httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"code": "429"}}))
    client = RuntimeClient(SERVICE.primary, SERVICE, transport=httpx.MockTransport(counter), policy=POLICY)
    assert client.submit(DOCS, project="p", deployment="d", kind="single").job_id == "job-1"
    assert counter.posts == 2


def test_a_connection_never_made_is_retried_and_a_400_is_final() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    counter = _Counter(refused)
    client = RuntimeClient(SERVICE.primary, SERVICE, transport=httpx.MockTransport(counter), policy=POLICY)
    assert client.submit(DOCS, project="p", deployment="d", kind="single").job_id == "job-1"
    assert counter.posts == 2
    rejected = _Counter(_status(400))
    client = RuntimeClient(SERVICE.primary, SERVICE, transport=httpx.MockTransport(rejected), policy=POLICY)
    with pytest.raises(InvalidRequestError):
        client.submit(DOCS, project="p", deployment="d", kind="single")
    assert rejected.posts == 1


@pytest.mark.parametrize("answer", ["502", "504", "408", "dropped after sending"])
@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.train("p", model_label="m"),
        lambda c: c.deploy("p", "d", "m"),
        lambda c: c.create_or_update_project("p", kind="single", storage_container="c"),
        lambda c: c.swap_deployments("p", "a", "b"),
    ],
    ids=["train POST", "deploy PUT", "project PATCH", "swap POST"],
)
def test_authoring_writes_are_sent_once_on_an_ambiguous_answer(
    answer: str, call: Callable[[AuthoringClient], object]
) -> None:
    counter = _Counter(AMBIGUOUS[answer])
    client = AuthoringClient(SERVICE.primary, SERVICE, transport=httpx.MockTransport(counter), policy=POLICY)
    with pytest.raises(SubmitOutcomeUnknownError):
        call(client)
    assert counter.posts == 1


def test_reads_are_still_retried_on_5xx() -> None:
    answers = iter([_status(502), _status(504)])
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        nxt = next(answers, None)
        return nxt(request) if nxt else httpx.Response(200, json={"status": "running", "tasks": {}})

    client = RuntimeClient(SERVICE.primary, SERVICE, transport=httpx.MockTransport(handler), policy=POLICY)
    assert client.get_job("job-1").status == "running"
    assert seen == ["GET", "GET", "GET"]
