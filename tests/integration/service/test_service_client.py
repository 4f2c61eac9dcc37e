"""The client against the real emulator on loopback: sync and async runtime, auth, throttling, lookups."""

from __future__ import annotations

import asyncio

import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.errors import AuthenticationError, NotFoundError
from ctc_spark.local.corpus import generate_corpus
from ctc_spark.service import AnalyzeDocument, AsyncRuntimeClient, RuntimeClient

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(300, n_classes=3, seed=41)
TEST = generate_corpus(25, n_classes=3, seed=42)


@pytest.fixture(scope="module")
def server(make_emulator):
    from ctc_spark.emulator import LatencyModel

    s = make_emulator(latency=LatencyModel(queue_seconds=0.05, per_document_seconds=0.0, spread=0.0))
    s.seed_deployment("cli", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN])
    return s


def _service(server, key: str | None = None) -> ServiceSettings:
    return ServiceSettings(
        resources=(ResourceSettings(server.endpoint, Secret(key or server.key)),), max_retry_seconds=30
    )


def _poll(client: RuntimeClient, location: str, ids: list[str]):
    import time

    for _ in range(100):
        job = client.get_job(location, show_stats=True, expected_ids=ids)
        if job.done:
            return job
        time.sleep(0.05)
    raise AssertionError("job never finished")


def test_sync_submit_poll_and_cancel(server) -> None:
    svc = _service(server)
    with RuntimeClient(svc.primary, svc) as client:
        docs = [AnalyzeDocument(d.id, d.text) for d in TEST]
        submitted = client.submit(docs, project="cli", deployment="prod", kind="single")
        job = _poll(client, submitted.operation_location, [d.id for d in docs])
        assert job.status == "succeeded" and len(job.documents) == 25
        truth = {d.id: d.labels[0] for d in TEST}
        agree = sum(d.classes[0].category == truth[d.id] for d in job.documents) / 25
        assert agree > 0.7 and all(d.characters and d.characters > 0 for d in job.documents)
        other = client.submit(docs[:2], project="cli", deployment="prod", kind="single")
        client.cancel(other.job_id)
        assert client.get_job(other.job_id).status in ("cancelled", "succeeded")
        assert (client.stats.submits, client.stats.cancels) == (2, 1)


def test_async_client_runs_many_jobs_at_once(server) -> None:
    svc = _service(server)

    async def go() -> list[str]:
        async with AsyncRuntimeClient(svc.primary, svc) as client:
            docs = [AnalyzeDocument(d.id, d.text) for d in TEST]
            jobs = await asyncio.gather(
                *(client.submit(docs, project="cli", deployment="prod", kind="single") for _ in range(8))
            )
            await asyncio.sleep(0.3)
            done = await asyncio.gather(*(client.get_job(j.operation_location) for j in jobs))
            return [j.status for j in done]

    assert asyncio.run(go()) == ["succeeded"] * 8


def test_wrong_key_and_unknown_deployment(server) -> None:
    svc = _service(server, key="not-the-key")
    with RuntimeClient(svc.primary, svc) as client, pytest.raises(AuthenticationError) as info:
        client.submit([AnalyzeDocument("a", "x")], project="cli", deployment="prod", kind="single")
    assert info.value.status == 401 and "not-the-key" not in str(info.value)
    good = _service(server)
    with RuntimeClient(good.primary, good) as client, pytest.raises(NotFoundError):
        client.submit([AnalyzeDocument("a", "x")], project="cli", deployment="nope", kind="single")


def test_throttled_calls_are_retried_to_success(make_emulator) -> None:
    s = make_emulator(calls_per_minute=120, burst_seconds=0.5)
    s.seed_deployment("cli", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN])
    svc = _service(s)
    with RuntimeClient(svc.primary, svc) as client:
        for _ in range(4):
            client.submit([AnalyzeDocument("a", TEST[0].text)], project="cli", deployment="prod", kind="single")
        assert client.stats.submits == 4 and client.stats.throttled >= 1
    assert s.stats()["throttled"] >= 1
