"""Tables written by an earlier version (no properties, no clustering) are upgraded in place and keep working."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import CLUSTER_BY, JOBS, JOBS_SCHEMA, RESULTS, RESULTS_SCHEMA, RUNS, RUNS_SCHEMA
from ctc_spark.engine.run import run_classification
from ctc_spark.io.layout import TABLE_PROPERTIES, describe_detail
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import generate_corpus

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(300, n_classes=4, seed=51, id_prefix="train")
FAST_LATENCY = {"queue_seconds": 0.02, "per_document_seconds": 0.001, "spread": 0.1}


def test_tables_of_an_earlier_version_are_upgraded_without_rewriting_history(spark, make_emulator, tmp_path) -> None:
    from ctc_spark.emulator import LatencyModel

    server = make_emulator(seed=9, latency=LatencyModel(**FAST_LATENCY))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    settings = Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=30), batch=BatchSettings())
    root = Path(tmp_path / "tables")
    location = TableLocation.parse(str(root))
    # What today's main wrote: each table an empty DataFrame saved as Delta (no properties, no layout), then a
    # row of an earlier night in `results`.
    for name, schema in ((JOBS, JOBS_SCHEMA), (RESULTS, RESULTS_SCHEMA), (RUNS, RUNS_SCHEMA)):
        spark.createDataFrame([], schema).write.format("delta").save(str(root / name))
    old = {f.name: None for f in RESULTS_SCHEMA.fields} | {
        "doc_id": "old-1",
        "project_name": "tickets",
        "deployment_name": "prod",
        "error_code": "EmptyDocument",
        "run_id": "an-earlier-night",
    }
    spark.createDataFrame([tuple(old.values())], RESULTS_SCHEMA).write.format("delta").mode("append").save(
        str(root / RESULTS)
    )
    assert describe_detail(spark, location, RESULTS).clustering_columns == ()

    docs = generate_corpus(60, n_classes=4, seed=52)
    df = spark.createDataFrame([(d.id, d.text) for d in docs], "id STRING, text STRING")
    kw = {"project": "tickets", "deployment": "prod", "kind": "single", "tables": location, "settings": settings}
    first = run_classification(df, run_id="upgraded", **kw)
    assert (first.succeeded_docs, first.errored_docs) == (60, 0)
    for name in (JOBS, RESULTS, RUNS):
        detail = describe_detail(spark, location, name)
        assert detail.clustering_columns == CLUSTER_BY[name], name
        assert all(detail.properties.get(k) == v for k, v in TABLE_PROPERTIES.items()), name
    history = spark.sql(f"DESCRIBE HISTORY {location.name(RESULTS)}").collect()
    assert min(r.version for r in history) == 0, "the upgrade rewrote the history"
    assert {"SET TBLPROPERTIES", "CLUSTER BY"} <= {r.operation for r in history}
    rows = {r.doc_id: r for r in read_table(spark, location, RESULTS).collect()}
    assert len(rows) == 61 and rows["old-1"].run_id == "an-earlier-night"

    again = run_classification(df, run_id="after", **kw)
    assert (again.skipped_docs, again.submits) == (60, 0)
    assert describe_detail(spark, location, RESULTS).clustering_columns == CLUSTER_BY[RESULTS]
