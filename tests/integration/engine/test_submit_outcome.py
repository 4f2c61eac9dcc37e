"""A submit whose answer is lost after the service created the job: one POST, an `unknown` row, one resubmit.

The emulator creates the job and then answers 502 (a gateway) or drops the connection mid-answer. The client
must not send that POST again on its own (it may bill a second job); the engine records the batch `unknown`
in `jobs`, its existing resubmission path sends it once more, and the run's summary and `runs` row count it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import JOBS, RUNS
from ctc_spark.engine.run import run_classification
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(300, n_classes=3, seed=31, id_prefix="train")
SUBMIT_ROUTE = "POST /language/analyze-text/jobs "


def _posts(stats: dict[str, object]) -> int:
    requests = stats["requests"]
    assert isinstance(requests, dict)
    return sum(n for route, n in requests.items() if route.startswith(SUBMIT_ROUTE))


@pytest.mark.parametrize("lost_status", [502, 0], ids=["502 after the job was created", "connection dropped"])
def test_a_lost_submit_answer_is_recorded_unknown_and_resubmitted_once(
    spark, make_emulator, tmp_path: Path, lost_status: int
) -> None:
    from ctc_spark.emulator import FaultProfile, LatencyModel

    server = make_emulator(latency=LatencyModel(queue_seconds=0.05, per_document_seconds=0.002, spread=0.0))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    server.set_faults(FaultProfile(lose_next_submits=1, lost_submit_status=lost_status))
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    settings = Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=60), batch=BatchSettings())
    docs = generate_corpus(100, n_classes=3, seed=32)
    tables = str(tmp_path / "tables")
    before = server.stats()

    summary = run_classification(
        corpus_dataframe(spark, docs, kind="single"),
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=settings,
        run_id="lost-answer",
    )

    after = server.stats()
    assert (summary.succeeded_docs, summary.errored_docs) == (100, 0)
    # One POST for the lost answer (never repeated by the client) and one for each accepted submit.
    assert _posts(after) - _posts(before) == summary.submits + 1
    assert after["submits"] - before["submits"] == summary.submits + 1, "the lost answer's job was created (orphaned)"
    location = TableLocation.parse(tables)
    jobs = read_table(spark, location, JOBS).collect()
    unknown = [j for j in jobs if j.status == "unknown"]
    assert len(unknown) == 1 and unknown[0].job_id is None and unknown[0].attempts == 1
    assert "SubmitOutcomeUnknown" in unknown[0].last_error or "answer" in unknown[0].last_error
    again = [j for j in jobs if j.batch_id == unknown[0].batch_id and j.status == "succeeded"]
    assert len(again) == 1 and again[0].attempts == 2, "the unknown batch is resubmitted exactly once"
    assert summary.resubmitted_batches == 1
    run = read_table(spark, location, RUNS).filter("run_id = 'lost-answer'").first()
    assert run.status == "succeeded" and run.resubmitted_batches == 1 and run.succeeded_docs == 100
