"""Under Spark Connect with a folder `--tables`, a run leaves no plan table behind: succeeded, failed or refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.planning.frozen import PLAN_PREFIX
from ctc_spark.engine.run import run_classification
from ctc_spark.errors import BudgetExceededError, ConfigError, CTCError
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(300, n_classes=4, seed=41, id_prefix="train")


@pytest.fixture(scope="module")
def server(make_emulator):
    from ctc_spark.emulator import LatencyModel

    emulator = make_emulator(latency=LatencyModel(queue_seconds=0.05, per_document_seconds=0.002, spread=0.2))
    emulator.seed_deployment(
        "left", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    return emulator


def _settings(server, key: str) -> Settings:
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(key), calls_per_minute=60_000)
    return Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=5), batch=BatchSettings())


def _plans(tables: Path) -> list[str]:
    return sorted(p.name for p in tables.glob(f"{PLAN_PREFIX}*"))


def test_no_plan_table_remains_after_a_successful_a_failed_and_a_refused_run(spark, server, tmp_path: Path) -> None:
    df = corpus_dataframe(spark, generate_corpus(60, n_classes=4, seed=42), kind="single").drop("label")
    tables = tmp_path / "tables"

    def run(run_id: str, key: str = server.key, **kwargs: object) -> object:
        return run_classification(
            df,
            project="left",
            deployment="prod",
            kind="single",
            tables=str(tables),
            settings=_settings(server, key),
            run_id=run_id,
            **kwargs,
        )

    with pytest.raises(BudgetExceededError):  # refused after planning: the plan was written, then refused
        run("refused", max_text_records=1)
    assert _plans(tables) == []
    # A wrong key: `--skip-by text` goes on past the model read, plans, and fails at the first submit.
    with pytest.raises(CTCError, match="refused"):
        run("failed", key="wrong-key", skip_by="text")
    assert _plans(tables) == []
    summary = run("succeeded")
    assert summary.succeeded_docs == 60  # type: ignore[attr-defined]
    assert _plans(tables) == []
    with pytest.raises(ConfigError, match="run id 'succeeded' was already used"):
        run("succeeded", force=True)
    assert _plans(tables) == []


def test_maintain_under_spark_connect_finds_and_drops_a_plan_a_killed_driver_left(
    spark, server, tmp_path: Path
) -> None:
    from ctc_spark import maintain

    tables = tmp_path / "tables"
    df = corpus_dataframe(spark, generate_corpus(30, n_classes=4, seed=43), kind="single").drop("label")
    run_classification(
        df, project="left", deployment="prod", kind="single", tables=str(tables),
        settings=_settings(server, server.key), run_id="before-maintain",
    )  # fmt: skip
    orphan = f"{PLAN_PREFIX}{'0' * 40}"  # what a killed driver leaves: no lease owns it
    spark.range(3).write.format("delta").save(str(tables / orphan))
    assert _plans(tables) == [orphan]
    report = maintain(spark, str(tables))
    assert (report.dropped_plans, _plans(tables)) == ([orphan], [])
    assert maintain(spark, str(tables)).dropped_plans == []  # idempotent
