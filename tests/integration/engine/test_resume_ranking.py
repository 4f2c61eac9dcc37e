"""After a crash, a batch's latest submission is polled, even when an older attempt of it counted higher."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import JOBS, JOBS_SCHEMA, RESULTS, RUNS, RUNS_SCHEMA, ensure_engine_tables
from ctc_spark.engine.planning.model import read_deployment_model
from ctc_spark.engine.planning.packing import text_sha256
from ctc_spark.engine.run import run_classification
from ctc_spark.io.tables import TableLocation, append_rows, read_table
from ctc_spark.local.corpus import generate_corpus
from ctc_spark.service.models import AnalyzeDocument
from ctc_spark.service.runtime import RuntimeClient

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(300, n_classes=4, seed=41, id_prefix="train")
FAST_LATENCY = {"queue_seconds": 0.02, "per_document_seconds": 0.001, "spread": 0.1}


def _row(schema, **values: object) -> tuple[object, ...]:
    return tuple(values.get(f.name) for f in schema.fields)


def test_a_crash_after_tonights_submit_polls_it_even_when_an_older_attempt_counted_higher(
    spark, make_emulator, tmp_path: Path
) -> None:
    from ctc_spark.emulator import LatencyModel

    server = make_emulator(seed=8, latency=LatencyModel(**FAST_LATENCY))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    settings = Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=30), batch=BatchSettings())
    docs = generate_corpus(25, n_classes=4, seed=42)
    location = TableLocation.parse(str(tmp_path / "tables"))
    ensure_engine_tables(spark, location)
    model = read_deployment_model(settings.service, "tickets", "prod")
    now = datetime.now(timezone.utc)
    # Tonight's run submitted the batch (its first attempt tonight), committed the job, and crashed. The engine
    # sends positional ids.
    with RuntimeClient(resource, settings.service) as client:
        job = client.submit(
            [AnalyzeDocument(str(i), d.text) for i, d in enumerate(docs)],
            project="tickets",
            deployment="prod",
            kind="single",
        )
    batch = {
        "batch_id": "b-1",
        "project_name": "tickets",
        "deployment_name": "prod",
        "kind": "single",
        "doc_ids": [d.id for d in docs],
        "text_sha256s": [text_sha256(d.text) for d in docs],
        "resource": "default",
    }
    yesterday = now - timedelta(hours=20)
    jobs = [
        # Last night the same batch was on its third attempt when that run crashed too: its row still says
        # `submitted` (its documents, never classified, are pending again tonight).
        _row(
            JOBS_SCHEMA,
            **batch,
            run_id="last-night",
            job_id="job-of-last-night",
            operation_location=f"{server.endpoint}/language/analyze-text/jobs/job-of-last-night",
            submitted_at=yesterday,
            expires_at=yesterday + timedelta(hours=24),
            status="submitted",
            attempts=3,
            updated_at=yesterday,
        ),
        _row(
            JOBS_SCHEMA,
            **batch,
            run_id="tonight",
            job_id=job.job_id,
            operation_location=job.operation_location,
            submitted_at=job.submitted_at,
            expires_at=job.submitted_at + timedelta(hours=24),
            status="submitted",
            attempts=1,
            updated_at=now,
        ),
    ]
    append_rows(spark, location, JOBS, spark.createDataFrame(jobs, JOBS_SCHEMA))
    runs = [
        _row(RUNS_SCHEMA, run_id=r, status=s, project_name="tickets", deployment_name="prod", model_id=model.model_id)
        for r, s in (("last-night", "succeeded"), ("tonight", "running"))
    ]
    append_rows(spark, location, RUNS, spark.createDataFrame(runs, RUNS_SCHEMA))

    before = server.stats()["submits"]
    summary = run_classification(
        spark.createDataFrame([(d.id, d.text) for d in docs], "id STRING, text STRING"),
        project="tickets",
        deployment="prod",
        kind="single",
        tables=location,
        settings=settings,
        run_id="resumed",
    )
    assert server.stats()["submits"] - before == summary.submits == 0, "tonight's job was paid twice"
    assert (summary.resumed_jobs, summary.succeeded_docs) == (1, 25), summary.errors_by_code
    rows = read_table(spark, location, RESULTS).collect()
    assert {r.job_id for r in rows} == {job.job_id} and len(rows) == 25
