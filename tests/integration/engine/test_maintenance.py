"""`maintain` while a run classifies loses nothing and leaves the run's plan alone; a second one changes nothing."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import JOBS, JOBS_SCHEMA, RESULTS, ensure_engine_tables
from ctc_spark.engine.maintenance import maintain
from ctc_spark.engine.planning.frozen import plan_table_name
from ctc_spark.engine.run import run_classification
from ctc_spark.io.tables import TableLocation, append_rows, read_table
from ctc_spark.local.corpus import generate_corpus

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(300, n_classes=4, seed=61, id_prefix="train")
# Every job takes at least 40 s: the run is still classifying while `maintain` runs beside it.
SLOW_JOBS = {"queue_seconds": 40.0, "per_document_seconds": 0.001, "spread": 0.05}


def test_maintain_during_a_run_loses_nothing_and_a_second_maintain_changes_nothing(
    spark, make_emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctc_spark.emulator import LatencyModel
    from ctc_spark.engine import run as run_module

    # The run's plan as a cluster or Spark Connect keeps it, in a table: on a local master it is a checkpoint in
    # memory, and there would be no live plan for `maintain` to leave alone.
    monkeypatch.setattr(run_module, "is_local_master", lambda spark: False)

    server = make_emulator(seed=10, latency=LatencyModel(**SLOW_JOBS))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    settings = Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=30), batch=BatchSettings())
    root = tmp_path / "tables"
    location = TableLocation.parse(str(root))
    ensure_engine_tables(spark, location)
    # A run killed long ago left its plan behind, and a job row older than any resume could poll.
    spark.range(3).write.format("delta").save(str(root / plan_table_name("tickets", "prod", "crashed-run")))
    ancient = datetime.now(timezone.utc) - timedelta(days=10)
    old_job = {f.name: None for f in JOBS_SCHEMA.fields} | {
        "batch_id": "ancient",
        "project_name": "tickets",
        "deployment_name": "prod",
        "submitted_at": ancient,
        "updated_at": ancient,
        "status": "succeeded",
    }
    append_rows(spark, location, JOBS, spark.createDataFrame([tuple(old_job.values())], JOBS_SCHEMA))

    docs = generate_corpus(300, n_classes=4, seed=62)
    df = spark.createDataFrame([(d.id, d.text) for d in docs], "id STRING, text STRING")
    outcome: dict[str, object] = {}

    def classify() -> None:
        try:
            outcome["summary"] = run_classification(
                df,
                project="tickets",
                deployment="prod",
                kind="single",
                tables=location,
                settings=settings,
                run_id="live",
            )
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    run = threading.Thread(target=classify)
    run.start()
    plan = root / plan_table_name("tickets", "prod", "live")
    deadline = time.monotonic() + 600  # a hang guard, not a timing assertion
    while not (plan / "_delta_log").exists() or server.stats()["submits"] == 0:
        assert run.is_alive() and time.monotonic() < deadline, f"the run never started classifying: {outcome}"
        time.sleep(0.2)
    classifying = run.is_alive()  # its jobs take 40 s each: still classifying while maintain reads the leases
    first = maintain(spark, location)
    run.join()

    assert classifying, "the run ended before maintain: the test proves nothing"
    # The run's MERGEs and maintain's OPTIMIZE/DELETE may conflict as Delta commits: both retry, nothing fails.
    assert "error" not in outcome, outcome.get("error")
    assert first.dropped_plans == [plan_table_name("tickets", "prod", "crashed-run")]
    assert first.kept_plans == [plan_table_name("tickets", "prod", "live")]
    assert first.pruned_job_rows == 1
    summary = outcome["summary"]
    assert summary.succeeded_docs == 300  # type: ignore[attr-defined]
    results = read_table(spark, location, RESULTS).collect()
    assert sorted(r.doc_id for r in results) == sorted(d.id for d in docs)
    assert all(r.error_code is None and r.run_id == "live" for r in results)
    jobs = read_table(spark, location, JOBS)
    assert jobs.filter("batch_id = 'ancient'").count() == 0 and jobs.filter("run_id = 'live'").count() >= 12
    assert not (root / plan_table_name("tickets", "prod", "crashed-run")).exists()

    maintain(spark, location)  # compacts what the run wrote after the first
    settled = maintain(spark, location)
    again = maintain(spark, location)
    assert (again.pruned_job_rows, again.dropped_plans, again.kept_plans) == (0, [], [])
    assert [(t.table, t.files_after, t.bytes_after) for t in again.tables] == [
        (t.table, t.files_after, t.bytes_after) for t in settled.tables
    ]
    assert all((t.files_before, t.bytes_before) == (t.files_after, t.bytes_after) for t in again.tables)
    assert all(t.files_after <= 2 for t in again.tables), again.tables
    assert read_table(spark, location, RESULTS).count() == 300
