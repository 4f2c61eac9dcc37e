"""Re-runs send transient error rows again and leave permanent ones alone: real Spark, Delta and the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import RESULTS
from ctc_spark.engine.planning.estimate import text_records
from ctc_spark.engine.run import run_classification
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import generate_corpus

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(300, n_classes=4, seed=31, id_prefix="train")
FAST_LATENCY = {"queue_seconds": 0.02, "per_document_seconds": 0.001, "spread": 0.1}


def _settings(server) -> Settings:
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    return Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=30), batch=BatchSettings())


def _rows(spark, tables: str) -> dict[str, object]:
    return {r.doc_id: r for r in read_table(spark, TableLocation.parse(tables), RESULTS).collect()}


def test_transient_error_rows_are_classified_again_once_the_service_is_healthy(
    spark, make_emulator, tmp_path: Path
) -> None:
    from ctc_spark.emulator import FaultProfile, LatencyModel

    server = make_emulator(seed=7, latency=LatencyModel(**FAST_LATENCY))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    docs = generate_corpus(100, n_classes=4, seed=32)
    # 100 documents the failing service gives `JobFailed`, one it will say it refuses, one empty (refused before
    # any call).
    data = [(d.id, d.text) for d in docs] + [("refused", "a document the service refuses"), ("empty", "")]
    df = spark.createDataFrame(data, "id STRING, text STRING")
    tables = str(tmp_path / "tables")
    settings = _settings(server)

    server.set_faults(FaultProfile(failed_job_rate=1.0))
    first = run_classification(
        df, project="tickets", deployment="prod", kind="single", tables=tables, settings=settings, run_id="down"
    )
    assert (first.succeeded_docs, first.errored_docs, first.text_records) == (0, 102, 0)
    assert first.errors_by_code == {"JobFailed": 101, "EmptyDocument": 1}
    # Stand in for the service refusing one document: a permanent code on a row of the same text and model.
    spark.sql(f"UPDATE delta.`{tables}/results` SET error_code = 'InvalidDocument' WHERE doc_id = 'refused'")

    server.set_faults(FaultProfile())
    kept = run_classification(
        df,
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=settings,
        run_id="kept",
        retry_errors="none",
    )
    assert (kept.skipped_docs, kept.submits) == (102, 0)
    before = server.stats()["submits"]
    second = run_classification(
        df, project="tickets", deployment="prod", kind="single", tables=tables, settings=settings, run_id="healthy"
    )
    # The 100 transient rows in 4 requests of 25; the refused and the empty document are not sent.
    assert server.stats()["submits"] - before == second.submits == 4
    assert (second.skipped_docs, second.succeeded_docs, second.errored_docs) == (2, 100, 0)
    assert second.text_records == sum(text_records(len(d.text)) for d in docs)
    rows = _rows(spark, tables)
    assert read_table(spark, TableLocation.parse(tables), RESULTS).count() == len(rows) == 102  # replaced, not added
    assert all(rows[d.id].error_code is None and rows[d.id].run_id == "healthy" for d in docs)
    assert (rows["refused"].error_code, rows["refused"].run_id) == ("InvalidDocument", "down")
    assert (rows["empty"].error_code, rows["empty"].run_id) == ("EmptyDocument", "down")

    # `all` sends the permanent ones too: the refused document goes (1 request), the empty one is refused again
    # before any call.
    everything = run_classification(
        df,
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=settings,
        run_id="all",
        retry_errors="all",
    )
    assert (everything.skipped_docs, everything.submits, everything.errored_docs) == (100, 1, 1)
    rows = _rows(spark, tables)
    assert (rows["refused"].error_code, rows["refused"].run_id) == (None, "all")
    assert (rows["empty"].error_code, rows["empty"].run_id) == ("EmptyDocument", "all")
