"""The service client against httpx.MockTransport: every status and header path, retries, parsing, secrets."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Callable

import httpx
import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.errors import (
    AuthenticationError,
    ConfigError,
    ConflictError,
    DeadlineExceededError,
    InvalidRequestError,
    JobFailedError,
    NotFoundError,
    SubmitOutcomeUnknownError,
    ThrottledError,
    TransientServiceError,
)
from ctc_spark.service import (
    AnalyzeDocument,
    AsyncRuntimeClient,
    AuthoringClient,
    RetryPolicy,
    RuntimeClient,
    wait_for_operation,
)
from ctc_spark.service.retry import retry_delay
from ctc_spark.service.wire import parse_job, retry_after

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


def test_submit_sends_the_sdk_shape_and_returns_the_job() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, headers={"Operation-Location": LOC})

    client, _ = _client(handler)
    job = client.submit(DOCS, project="p", deployment="d", kind="multi", display_name="dn")
    assert (job.job_id, job.operation_location) == ("job-1", LOC)
    body = json.loads(seen[0].content)
    assert body["tasks"][0] == {
        "taskName": "0",
        "kind": "CustomMultiLabelClassification",
        "parameters": {"projectName": "p", "deploymentName": "d", "loggingOptOut": True},
    }
    assert body["analysisInput"]["documents"][0] == {"id": "a", "text": "alpha text", "language": "en"}
    assert seen[0].headers["Ocp-Apim-Subscription-Key"] == KEY
    assert seen[0].url.params["api-version"] == "2023-04-01"
    assert client.stats.submits == 1


def test_get_job_parses_results_errors_stats_and_sorts_classes() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_job())

    client, _ = _client(handler)
    job = client.get_job(LOC, show_stats=True)
    assert seen[0].url.params["$top"] == "25" and seen[0].url.params["showStats"] == "true"
    a, b = job.documents
    assert [c.category for c in a.classes] == ["y", "x"] and a.characters == 10
    assert (b.error_code, b.error_message, b.classes) == ("InvalidDocument", "Document text is empty.", ())
    assert job.created is not None and job.created.microsecond == 123456 and job.done


def test_next_link_pages_are_merged() -> None:
    page2 = {
        "status": "succeeded",
        "tasks": {
            "items": [
                {
                    "results": {
                        "documents": [
                            {"id": "c", "class": [{"category": "z", "confidenceScore": 0.9}], "warnings": []}
                        ],
                        "errors": [],
                    }
                }
            ]
        },
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("$skip") == "2":
            return httpx.Response(200, json=page2)
        return httpx.Response(
            200, json=_job(nextLink=f"{EP}/language/analyze-text/jobs/job-1?api-version=2023-04-01&$skip=2&$top=2")
        )

    client, _ = _client(handler)
    assert [d.id for d in client.get_job("job-1").documents] == ["a", "c", "b"]


def test_partially_completed_fills_every_expected_document() -> None:
    body = {
        "status": "partiallyCompleted",
        "errors": [{"code": "InternalServerError", "message": "task failed", "target": "#/tasks/items/0"}],
        "tasks": {
            "items": [{"kind": "CustomSingleLabelClassificationLROResults", "taskName": "0", "status": "failed"}]
        },
    }
    job = parse_job(body, expected_ids=["a", "b"])
    assert [(d.id, d.error_code) for d in job.documents] == [("a", "InternalServerError"), ("b", "InternalServerError")]
    minimal = parse_job({"status": "running"})
    assert (minimal.documents, minimal.created, minimal.done) == ((), None, False)


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


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_errors_back_off_then_give_up_after_max_attempts(status: int) -> None:
    calls = []
    client, waits = _client(lambda r: calls.append(r) or _error(status, "Server"))
    with pytest.raises(TransientServiceError):
        client.get_job("job-1")
    assert len(calls) == 4 and len(waits) == 3
    assert waits == sorted(waits)  # exponential with the same jitter draw


def test_retries_stop_when_the_time_budget_is_spent() -> None:
    calls = []
    client, waits = _client(lambda r: calls.append(r) or _error(429, "429", headers={"Retry-After": "40"}))
    with pytest.raises(ThrottledError) as info:
        client.get_job("job-1")
    # 40 s fits in 60 s; the second wait is cut to what is left of the budget, then the call gives up.
    assert len(calls) == 3 and info.value.retry_after == 40.0 and sum(waits) == 60.0


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


def test_retry_delay_is_pure_and_bounded() -> None:
    policy = RetryPolicy(max_attempts=3, max_seconds=10, base_seconds=1, cap_seconds=4)
    err = TransientServiceError("x", status=500)
    assert [retry_delay(err, attempt=n, elapsed=0, policy=policy, rand=lambda: 1.0) for n in (1, 2, 3)] == [1, 2, None]
    assert (
        retry_delay(InvalidRequestError("x", status=400), attempt=1, elapsed=0, policy=policy, rand=lambda: 1.0) is None
    )


def test_versions_are_validated_and_secrets_stay_hidden() -> None:
    with pytest.raises(ConfigError, match="'2021-01-01'"):
        RuntimeClient(_settings().primary, _settings(runtime_api_version="2021-01-01"))
    client, _ = _client(lambda r: httpx.Response(200))
    assert KEY not in repr(client) and KEY not in repr(_settings())
    err = pickle.loads(pickle.dumps(ThrottledError("slow", status=429, retry_after=2.0)))
    assert err.retry_after == 2.0


def test_authoring_calls_and_the_operation_waiter() -> None:
    seen: list[httpx.Request] = []
    polls = iter([{"status": "running", "jobId": "t1"}, {"status": "succeeded", "jobId": "t1"}])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/:train"):
            return httpx.Response(
                202,
                headers={
                    "Operation-Location": f"{EP}/language/authoring/analyze-text/projects/p/train/jobs/t1?api-version=2023-04-01"
                },
            )
        if "/train/jobs/t1" in request.url.path:
            return httpx.Response(200, json=next(polls), headers={"Retry-After": "2"})
        return httpx.Response(201, json={"projectName": "p"})

    client = AuthoringClient(_settings().primary, _settings(), transport=httpx.MockTransport(handler))
    client.create_or_update_project("p", kind="single", storage_container="c")
    assert seen[0].method == "PATCH" and seen[0].headers["Content-Type"] == "application/merge-patch+json"
    location = client.train("p", model_label="m", split=70)
    assert json.loads(seen[1].content)["evaluationOptions"] == {
        "kind": "percentage",
        "trainingSplitPercentage": 70,
        "testingSplitPercentage": 30,
    }
    waits: list[float] = []
    progress: list[str] = []
    done = wait_for_operation(
        client, location, poll_interval=9, sleep=waits.append, progress=lambda j: progress.append(j["status"])
    )
    assert done["status"] == "succeeded" and waits == [2.0] and progress == ["running", "succeeded"]


def test_operation_waiter_failures_and_deadline() -> None:
    class Ops:
        def __init__(self, bodies: list[dict[str, object]]) -> None:
            self.bodies = iter(bodies)

        def get_operation(self, location: str) -> tuple[dict[str, object], float | None]:
            return next(self.bodies), None

    failed = Ops([{"status": "failed", "jobId": "j", "errors": [{"code": "Bad", "message": "no docs"}]}])
    with pytest.raises(JobFailedError, match="Bad: no docs"):
        wait_for_operation(failed, "loc", sleep=lambda s: None)
    now = [0.0]
    running = Ops([{"status": "running"}] * 10)
    with pytest.raises(DeadlineExceededError):
        wait_for_operation(
            running,
            "loc",
            deadline_seconds=5,
            poll_interval=2,
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )


def test_entra_id_tokens_are_cached() -> None:
    class Token:
        token, expires_on = "tok-1", 4_102_444_800

    class Credential:
        calls = 0

        def get_token(self, scope: str) -> Token:
            Credential.calls += 1
            assert scope == "https://cognitiveservices.azure.com/.default"
            return Token()

    seen: list[httpx.Request] = []
    client = RuntimeClient(
        ResourceSettings(EP, None),
        _settings(use_entra_id=True),
        credential=Credential(),
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=_job())),
    )
    client.get_job("job-1")
    client.get_job("job-1")
    assert seen[0].headers["Authorization"] == "Bearer tok-1" and Credential.calls == 1
    assert "Ocp-Apim-Subscription-Key" not in seen[0].headers
