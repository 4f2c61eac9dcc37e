"""A job URL naming another host (as a tampered `jobs` row would): polls go only to the configured endpoint.

A second loopback server on another port records every request it gets; it must get none, while the job is
still polled to completion on the real emulator by its id.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.local.corpus import generate_corpus
from ctc_spark.service import AnalyzeDocument, AsyncRuntimeClient, AuthoringClient, RuntimeClient

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(200, n_classes=3, seed=51)
DOCS = [AnalyzeDocument(d.id, d.text) for d in generate_corpus(5, n_classes=3, seed=52)]


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str]]] = []

    def _record(self) -> None:
        _Recorder.seen.append((self.command, self.path, dict(self.headers)))
        body = b'{"status": "succeeded", "tasks": {"items": []}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _record

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(make_emulator):
    from ctc_spark.emulator import LatencyModel

    s = make_emulator(latency=LatencyModel(queue_seconds=0.05, per_document_seconds=0.0, spread=0.0))
    s.seed_deployment("home", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN])
    return s


def _service(server) -> ServiceSettings:
    return ServiceSettings(resources=(ResourceSettings(server.endpoint, Secret(server.key)),), max_retry_seconds=30)


def test_polls_of_a_foreign_operation_location_never_reach_the_other_host(server, elsewhere: str) -> None:
    svc = _service(server)
    _Recorder.seen.clear()

    async def go() -> str:
        async with AsyncRuntimeClient(svc.primary, svc) as client:
            job = await client.submit(DOCS, project="home", deployment="prod", kind="single")
            tampered = f"{elsewhere}/language/analyze-text/jobs/{job.job_id}?api-version=2023-04-01"
            for _ in range(200):
                polled = await client.get_job(tampered, expected_ids=[d.id for d in DOCS])
                if polled.done:
                    assert len(polled.documents) == len(DOCS)
                    return polled.status
                await asyncio.sleep(0.05)
        raise AssertionError("the job never finished")

    assert asyncio.run(go()) == "succeeded"
    with RuntimeClient(svc.primary, svc) as client:
        job = client.submit(DOCS, project="home", deployment="prod", kind="single")
        client.cancel(f"{elsewhere}/language/analyze-text/jobs/{job.job_id}?api-version=2023-04-01")
        assert client.get_job(f"{elsewhere}/jobs/{job.job_id}").job_id == job.job_id
    with AuthoringClient(svc.primary, svc) as authoring:
        assert authoring.get_deployment("home", "prod")
        authoring.get_operation(f"{elsewhere}/language/authoring/analyze-text/projects/home/deployments/prod")
    assert _Recorder.seen == [], "a request (and its key) went to a host that is not the resource's endpoint"


def test_a_resumed_run_polls_a_tampered_jobs_row_only_on_the_endpoint(spark, server, elsewhere: str, tmp_path) -> None:
    """A `jobs` row whose operation_location names another host: the next run polls the job on the endpoint."""
    from ctc_spark.config import BatchSettings, Settings
    from ctc_spark.engine.run import run_classification
    from ctc_spark.io.tables import TableLocation
    from ctc_spark.local.corpus import corpus_dataframe

    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    settings = Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=30), batch=BatchSettings())
    docs = generate_corpus(60, n_classes=3, seed=53)
    df = corpus_dataframe(spark, docs, kind="single")
    tables = str(tmp_path / "tables")
    first = run_classification(df, project="home", deployment="prod", kind="single", tables=tables, settings=settings)
    assert first.succeeded_docs == 60 and first.submits >= 3
    location = TableLocation.parse(tables)
    # As anyone who can write the tables could: the results are gone, the run looks killed before it wrote them
    # (a run that succeeded reconciled its jobs, which are then never polled again) and every job row points
    # elsewhere.
    spark.sql(f"DELETE FROM {location.name('results')}")
    spark.sql(f"UPDATE {location.name('runs')} SET status = 'running', finished_at = NULL")
    spark.sql(
        f"UPDATE {location.name('jobs')} SET operation_location = "
        f"regexp_replace(operation_location, '^https?://[^/]+', '{elsewhere}')"
    )
    tampered = spark.sql(f"SELECT operation_location FROM {location.name('jobs')}").collect()
    assert tampered and all(r.operation_location.startswith(elsewhere) for r in tampered)
    _Recorder.seen.clear()
    second = run_classification(df, project="home", deployment="prod", kind="single", tables=tables, settings=settings)
    assert second.succeeded_docs == 60 and second.submits == 0 and second.polls >= first.submits
    assert _Recorder.seen == [], "the resumed run sent requests (and the key) to the host named in the table"
