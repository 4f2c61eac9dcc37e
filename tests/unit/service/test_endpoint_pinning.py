"""The key goes only to its endpoint: URLs from the service or a table are used only on the configured origin."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.errors import ConfigError
from ctc_spark.service import AsyncRuntimeClient, AuthoringClient, RuntimeClient

KEY = "very-secret-key-123"
EP = "https://res.cognitiveservices.azure.com"
HOST = "res.cognitiveservices.azure.com"
FOREIGN = "http://elsewhere.test:8080"
JOB = {"jobId": "job-1", "status": "succeeded", "tasks": {"items": []}}


def _settings(endpoint: str = EP) -> ServiceSettings:
    return ServiceSettings(resources=(ResourceSettings(endpoint, Secret(KEY)),))


class _Recorder:
    """A transport that answers every request and records where each one went, and with which key."""

    def __init__(self, body: dict[str, object] | None = None, **headers: str) -> None:
        self.seen: list[httpx.Request] = []
        self.body, self.headers = body if body is not None else JOB, headers

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(200, json=self.body, headers=self.headers)

    def hosts(self) -> set[str]:
        return {f"{r.url.scheme}://{r.url.host}:{r.url.port or 443}" for r in self.seen}


def test_a_foreign_operation_location_is_polled_by_job_id_on_the_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    recorder = _Recorder()

    async def go() -> None:
        client = AsyncRuntimeClient(_settings().primary, _settings(), transport=httpx.MockTransport(recorder))
        try:
            for _ in range(3):  # the engine's scheduler passes the stored operation_location as it is
                await client.get_job(f"{FOREIGN}/language/analyze-text/jobs/job-1?api-version=2023-04-01")
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING):
        asyncio.run(go())
    assert recorder.hosts() == {f"https://{HOST}:443"}
    assert all(r.url.path == "/language/analyze-text/jobs/job-1" for r in recorder.seen)
    mismatch = [r for r in caplog.records if "elsewhere.test" in r.getMessage()]
    assert len(mismatch) == 1, "the mismatch is logged once per client"
    assert KEY not in caplog.text


def test_a_foreign_next_link_and_cancel_stay_on_the_endpoint() -> None:
    pages = iter(
        [
            {**JOB, "nextLink": f"{FOREIGN}/language/analyze-text/jobs/job-1?api-version=2023-04-01&$skip=25"},
            JOB,
            {},
        ]
    )
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=next(pages))

    client = RuntimeClient(_settings().primary, _settings(), transport=httpx.MockTransport(handler))
    client.get_job("job-1")
    assert [r.url.host for r in seen] == [HOST, HOST]
    assert seen[1].url.params["$skip"] == "25" and seen[1].url.path == "/language/analyze-text/jobs/job-1"
    client.cancel(f"{FOREIGN}/language/analyze-text/jobs/job-1?api-version=2023-04-01")
    assert seen[2].url.host == HOST and seen[2].url.path == "/language/analyze-text/jobs/job-1:cancel"


def test_same_origin_urls_are_used_as_they_are() -> None:
    recorder = _Recorder()
    client = RuntimeClient(_settings().primary, _settings(), transport=httpx.MockTransport(recorder))
    client.get_job(f"https://{HOST}:443/language/analyze-text/jobs/job-9?api-version=2023-04-01")
    assert recorder.seen[0].url.path == "/language/analyze-text/jobs/job-9"


@pytest.mark.parametrize(
    "job",
    ["../../authoring/analyze-text/projects/p", "job-1?x=1", "job 1/../x"],
)
def test_job_ids_are_percent_encoded(job: str) -> None:
    recorder = _Recorder()
    client = RuntimeClient(_settings().primary, _settings(), transport=httpx.MockTransport(recorder))
    client.get_job(job)
    url = recorder.seen[0].url
    path = url.raw_path.split(b"?")[0]  # `url.path` is decoded
    assert path.startswith(b"/language/analyze-text/jobs/") and path.count(b"/") == 4
    assert set(url.params) <= {"api-version", "$top"}


def test_authoring_operation_next_link_and_result_urls_stay_on_the_endpoint() -> None:
    recorder = _Recorder({"status": "succeeded", "resultUrl": f"{FOREIGN}/export/result", "value": []})
    client = AuthoringClient(_settings().primary, _settings(), transport=httpx.MockTransport(recorder))
    client.get_operation(f"{FOREIGN}/language/authoring/analyze-text/projects/p/train/jobs/t1?api-version=2023-04-01")
    client.get_export_result(f"{FOREIGN}/language/authoring/analyze-text/projects/p/export/jobs/e1")
    assert recorder.hosts() == {f"https://{HOST}:443"}
    assert recorder.seen[0].url.path == "/language/authoring/analyze-text/projects/p/train/jobs/t1"

    paged = iter([{"value": [{"a": 1}], "nextLink": f"{FOREIGN}/language/authoring/analyze-text/projects?skip=1"}])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=next(paged, {"value": [{"b": 2}]}))

    listing = AuthoringClient(_settings().primary, _settings(), transport=httpx.MockTransport(handler))
    assert listing.list_projects() == [{"a": 1}, {"b": 2}]
    assert [r.url.host for r in seen] == [HOST, HOST]


@pytest.mark.parametrize("endpoint", ["http://res.cognitiveservices.azure.com", "ftp://x.example", "https://"])
def test_clients_refuse_an_endpoint_the_key_must_not_go_to(endpoint: str) -> None:
    for make in (RuntimeClient, AuthoringClient):
        with pytest.raises(ConfigError, match="endpoint") as info:
            make(_settings(endpoint).primary, _settings(endpoint))  # type: ignore[operator]
        assert endpoint in str(info.value) and KEY not in str(info.value)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:5290", "http://localhost:1", "http://[::1]:8"])
def test_loopback_endpoints_may_use_http(endpoint: str) -> None:
    RuntimeClient(_settings(endpoint).primary, _settings(endpoint)).close()


def test_the_sender_refuses_to_send_credentials_anywhere_else() -> None:
    from ctc_spark.errors import InvalidRequestError
    from ctc_spark.service.transport import SyncSender
    from ctc_spark.service.wire import Call

    recorder = _Recorder()
    sender = SyncSender(_settings().primary, _settings(), transport=httpx.MockTransport(recorder))
    for url in (f"{FOREIGN}/x", f"http://{HOST}/x", f"https://{HOST}:8443/x", "https://evil.test\\@x.example/"):
        with pytest.raises(InvalidRequestError, match="refusing") as info:
            sender.send(Call("GET", url))
        assert KEY not in str(info.value)
    sender.send(Call("GET", f"https://{HOST.upper()}:443/x"))
    assert [r.url.host for r in recorder.seen] == [HOST]
