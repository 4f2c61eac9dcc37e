"""A nightly run's writes cost its batch: new documents' results and every job state are appended, and only
rows that replace earlier ones are MERGEd. Real Spark, Delta and the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from delta_probes import operations, version

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import JOBS, RESULTS, RUNS
from ctc_spark.engine.run import run_classification
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import generate_corpus

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(300, n_classes=4, seed=41, id_prefix="train")
FAST_LATENCY = {"queue_seconds": 0.02, "per_document_seconds": 0.001, "spread": 0.1}


def test_a_night_of_new_documents_appends_and_a_retried_error_is_merged(spark, make_emulator, tmp_path: Path) -> None:
    from ctc_spark.emulator import LatencyModel

    server = make_emulator(seed=8, latency=LatencyModel(**FAST_LATENCY))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    settings = Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=30), batch=BatchSettings())
    location = TableLocation.parse(str(tmp_path / "tables"))
    night1 = generate_corpus(60, n_classes=4, seed=42, id_prefix="n1-")
    night2 = generate_corpus(40, n_classes=4, seed=43, id_prefix="n2-")

    def run(docs: list[tuple[str, str]], run_id: str):
        df = spark.createDataFrame(docs, "id STRING, text STRING")
        return run_classification(
            df, project="tickets", deployment="prod", kind="single", tables=str(tmp_path / "tables"),
            settings=settings, run_id=run_id,
        )  # fmt: skip

    first = run([(d.id, d.text) for d in night1] + [("flaky", "a text the service will have failed")], "night-1")
    assert first.succeeded_docs == 61
    # Stand in for a failure that can pass: tonight's run sends that row again, and it replaces the old one.
    spark.sql(f"UPDATE {location.name(RESULTS)} SET error_code = 'JobFailed', category = NULL WHERE doc_id = 'flaky'")
    results_v, jobs_v, runs_v = (version(spark, location, t) for t in (RESULTS, JOBS, RUNS))

    second = run([(d.id, d.text) for d in night1 + night2] + [("flaky", "a text the service will have failed")], "n2")
    assert (second.skipped_docs, second.succeeded_docs, second.errored_docs) == (60, 41, 0)
    sent = [d.text for d in night2] + ["a text the service will have failed"]
    assert second.text_records == sum(max(1, -(-len(t) // 1000)) for t in sent)  # 1,000 characters a record
    results_ops = operations(spark, location, RESULTS, results_v)
    assert "WRITE" in results_ops and results_ops.count("MERGE") == 1  # 40 appended; the one retried row merged
    assert set(operations(spark, location, JOBS, jobs_v)) == {"WRITE"}  # job ids and states: appends only
    # The run's row: appended "running", then replaced by its final state (a replaceWhere overwrite), no MERGE.
    runs_history = spark.sql(f"DESCRIBE HISTORY {location.name(RUNS)}").filter(f"version > {runs_v}")
    modes = [r.operationParameters["mode"] for r in runs_history.orderBy("version").collect()]
    assert modes == ["Append", "Overwrite"]
    runs = read_table(spark, location, RUNS)
    assert sorted((r.run_id, r.status) for r in runs.collect()) == [("n2", "succeeded"), ("night-1", "succeeded")]
    rows = read_table(spark, location, RESULTS)
    assert rows.count() == rows.select("doc_id").distinct().count() == 101
    flaky = rows.filter("doc_id = 'flaky'").first()
    assert (flaky.error_code, flaky.run_id) == (None, "n2")
    assert {r.run_id for r in rows.filter("doc_id LIKE 'n2-%'").select("run_id").distinct().collect()} == {"n2"}

    # Tonight's jobs are under 24 hours old and `succeeded`: pollable, but their run reconciled every document,
    # so tomorrow's plan finds no open job and skips the open-job join. Were the run still `running` (a crash),
    # they would be candidates.
    from types import SimpleNamespace

    from ctc_spark.engine.planning.model import read_deployment_model
    from ctc_spark.engine.planning.queries import open_candidates

    model = read_deployment_model(settings.service, "tickets", "prod")
    tomorrow = SimpleNamespace(
        spark=spark, tables=location, project="tickets", deployment="prod", dry_run=False, model=model,
        skip_by="text+model",
    )  # fmt: skip
    assert open_candidates(tomorrow).count() == 0  # type: ignore[arg-type]
    spark.sql(f"UPDATE {location.name(RUNS)} SET status = 'running' WHERE run_id = 'n2'")
    crashed = open_candidates(tomorrow).select("run_id", "status").collect()  # type: ignore[arg-type]
    assert crashed and {(r.run_id, r.status) for r in crashed} == {("n2", "succeeded")}
