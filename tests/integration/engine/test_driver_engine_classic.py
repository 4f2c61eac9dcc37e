"""`engine = "driver"` on a classic session: the driver engine is not only for Spark Connect."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import BatchSettings, EngineSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import RESULTS
from ctc_spark.engine.run import run_classification
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration


def test_driver_engine_on_a_classic_session(spark, make_emulator, tmp_path: Path) -> None:
    from ctc_spark.emulator import LatencyModel

    train = generate_corpus(400, n_classes=5, seed=11, id_prefix="train")
    server = make_emulator(latency=LatencyModel(queue_seconds=0.05, per_document_seconds=0.002, spread=0.2))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in train], labels=[d.labels for d in train]
    )
    docs = generate_corpus(500, n_classes=5, seed=41)
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    settings = Settings(
        service=ServiceSettings(resources=(resource,), max_retry_seconds=60),
        batch=BatchSettings(),
        engine=EngineSettings("driver"),
    )
    tables = str(tmp_path / "tables")
    before = server.stats()
    summary = run_classification(
        corpus_dataframe(spark, docs, kind="single"),
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=settings,
    )
    assert (summary.input_docs, summary.succeeded_docs, summary.tasks) == (500, 500, 1)
    assert server.stats()["submits"] - before["submits"] == summary.submits
    rows = {r.doc_id: r.category for r in read_table(spark, TableLocation.parse(tables), RESULTS).collect()}
    assert len(rows) == 500
    assert sum(rows[d.id] == d.labels[0] for d in docs) / len(docs) > 0.8
