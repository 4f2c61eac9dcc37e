"""Model-aware incremental runs, the cost preview and the budget cap: real Spark + Delta, the emulator, Azurite."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings, Settings, StorageSettings
from ctc_spark.engine.ledger.tables import RESULTS, RESULTS_SCHEMA, RUNS, RUNS_SCHEMA
from ctc_spark.engine.run import run_classification
from ctc_spark.errors import BudgetExceededError
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus
from ctc_spark.training.workflow import TrainOptions, deploy_model, labelled_docs, train_model

pytestmark = pytest.mark.integration

FAST_LATENCY = {"queue_seconds": 0.05, "per_document_seconds": 0.002, "spread": 0.2}
NEW_COLUMNS = ("model_label", "model_id")
STEPS = {"model", "ids", "tables", "lease", "planning", "first_call", "streaming", "reconciliation", "recording"}


def _settings(server, azurite) -> Settings:
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    return Settings(
        service=ServiceSettings(resources=(resource,), max_retry_seconds=60),
        storage=StorageSettings(connection_string=Secret(azurite.connection_string), container="incremental"),
    )


@pytest.fixture(scope="module")
def models(spark, make_emulator, azurite):
    """One emulator with project `inc` and two trained models, m1 and m2 (the training helpers, Blob included)."""
    from ctc_spark.emulator import LatencyModel
    from ctc_spark.service import AuthoringClient

    server = make_emulator(latency=LatencyModel(**FAST_LATENCY), training_seconds=0.3)
    settings = _settings(server, azurite)
    client = AuthoringClient(settings.service.primary, settings.service)
    ids = {}
    for label, seed in (("m1", 61), ("m2", 62)):
        frame = corpus_dataframe(spark, generate_corpus(200, n_classes=4, seed=seed), kind="single")
        options = TrainOptions(project="inc", kind="single", model_label=label, split=80, poll_interval=0.1)
        ids[label] = train_model(settings, client, labelled_docs(frame, kind="single"), options, progress=print)
    yield server, settings, client, {k: v.model["modelId"] for k, v in ids.items()}
    client.close()


def _corpus(spark, n: int, seed: int):
    return corpus_dataframe(spark, generate_corpus(n, n_classes=4, seed=seed), kind="single").drop("label")


def _run(df, tables, settings, run_id: str, deployment: str = "prod", **kwargs):
    return run_classification(
        df,
        project="inc",
        deployment=deployment,
        kind="single",
        tables=tables,
        settings=settings,
        run_id=run_id,
        **kwargs,
    )


def test_a_model_change_reclassifies_everything_and_a_rerun_makes_no_call(spark, models, tmp_path: Path) -> None:
    server, settings, client, model_ids = models
    deploy_model(client, "inc", "m1", "prod", poll_interval=0.1)
    df = _corpus(spark, 300, seed=63)
    tables = TableLocation.parse(str(tmp_path / "tables"))

    first = _run(df, tables, settings, "first")
    assert (first.succeeded_docs, first.model_label, first.model_id) == (300, "m1", model_ids["m1"])
    assert set(first.step_seconds) >= STEPS and all(v >= 0 for v in first.step_seconds.values())
    rows = read_table(spark, tables, RESULTS).select("model_label", "model_id").distinct().collect()
    assert [tuple(r) for r in rows] == [("m1", model_ids["m1"])]

    deploy_model(client, "inc", "m2", "prod", poll_interval=0.1)
    before = server.stats()
    second = _run(df, tables, settings, "second")
    middle = server.stats()
    assert (second.skipped_docs, second.succeeded_docs, second.model_label) == (0, 300, "m2")
    assert middle["submits"] - before["submits"] == second.submits >= 12
    results = read_table(spark, tables, RESULTS)
    assert results.count() == 300  # one row per document and deployment: the new answer replaced the old
    named = {tuple(r) for r in results.select("run_id", "model_label", "model_id").distinct().collect()}
    assert named == {("second", "m2", model_ids["m2"])}

    third = _run(df, tables, settings, "third")
    after = server.stats()
    assert (third.skipped_docs, third.succeeded_docs, third.submits, third.polls) == (300, 0, 0, 0)
    assert after["submits"] == middle["submits"] and after["polls"] == middle["polls"]

    # The old behaviour on request: back on m1, skipping by text alone classifies nothing.
    deploy_model(client, "inc", "m1", "prod", poll_interval=0.1)
    fourth = _run(df, tables, settings, "fourth", skip_by="text")
    assert (fourth.skipped_docs, fourth.submits, server.stats()["submits"]) == (300, 0, after["submits"])

    runs = {r.run_id: r for r in read_table(spark, tables, RUNS).collect()}
    assert (runs["first"].model_label, runs["second"].model_id) == ("m1", model_ids["m2"])
    assert runs["second"].model_deployed_at is not None and runs["fourth"].skip_by == "text"
    assert set(runs["second"].step_seconds) >= STEPS and runs["third"].status == "succeeded"


def test_dry_run_counts_equal_the_real_run_and_the_cap_refuses_without_a_call(
    spark, models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, settings, client, _ = models
    deploy_model(client, "inc", "m1", "dry", poll_interval=0.1)
    docs = _corpus(spark, 400, seed=64)
    invalid = spark.createDataFrame(
        [("bad-empty", "  "), ("bad-null", None), ("bad-big", "x" * 130_000)], "id string, text string"
    )
    df = docs.unionByName(invalid)
    fresh = tmp_path / "fresh"
    before = server.stats()
    preview = _run(df, str(fresh), settings, "preview-fresh", deployment="dry", dry_run=True)
    assert preview.dry_run and preview.plan is not None and preview.model_label == "m1"
    assert not fresh.exists(), "a dry run must not create the tables"
    assert server.stats()["submits"] == before["submits"]

    tables = TableLocation.parse(str(tmp_path / "tables"))
    _run(docs.limit(100), tables, settings, "part", deployment="dry")
    middle = server.stats()
    dry = _run(df, tables, settings, "dry", deployment="dry", dry_run=True)
    plan = dry.plan
    assert plan is not None
    assert (plan.input_docs, plan.skipped_docs, plan.invalid_docs, plan.send_docs) == (403, 100, 3, 300)
    assert plan.resumed_jobs == 0 and plan.calls == 2 * plan.requests and plan.requests >= 12
    assert plan.text_records >= plan.send_docs and plan.estimated_seconds > 0
    assert server.stats()["submits"] == middle["submits"] and server.stats()["polls"] == middle["polls"]
    assert {r.run_id for r in read_table(spark, tables, RUNS).collect()} == {"part"}
    assert read_table(spark, tables, RESULTS).count() == 100

    # A capped run that resumes no open job checks the records its plan's write counted: one below the dry
    # run's packed count is refused, the count itself passes (so the two counts agree), and neither packs the
    # plan before the stream does.
    import ctc_spark.engine.run as run_module

    packed: list[str] = []
    monkeypatch.setattr(run_module, "preview_plan", lambda run, *a, **k: packed.append(run.summary.run_id))
    with pytest.raises(BudgetExceededError, match=rf"{plan.text_records} text records.*--max-text-records"):
        _run(df, tables, settings, "capped", deployment="dry", max_text_records=plan.text_records - 1)
    assert server.stats()["submits"] == middle["submits"]
    assert read_table(spark, tables, RUNS).filter("run_id = 'capped'").first().status == "failed"

    real = _run(df, tables, settings, "real", deployment="dry", max_text_records=plan.text_records)
    assert packed == [] and real.plan is None
    assert (real.skipped_docs, real.errored_docs, real.succeeded_docs) == (100, 3, 300)
    assert (real.submits, real.text_records) == (plan.requests, plan.text_records)
    assert real.polls >= plan.requests
    assert server.stats()["submits"] - middle["submits"] == plan.requests
    assert server.stats()["text_records"] - middle["text_records"] == plan.text_records
    assert preview.plan.send_docs == 400 and preview.plan.skipped_docs == 0


def test_tables_of_an_older_version_gain_the_new_columns(spark, models, tmp_path: Path) -> None:
    _, settings, client, model_ids = models
    deploy_model(client, "inc", "m1", "legacy", poll_interval=0.1)
    tables = TableLocation.parse(str(tmp_path / "tables"))
    docs = generate_corpus(30, n_classes=4, seed=65)
    from datetime import datetime, timezone

    from pyspark.sql.types import StructType

    from ctc_spark.engine.planning.inputs import normalise_input

    old_results = StructType([f for f in RESULTS_SCHEMA.fields if f.name not in NEW_COLUMNS])
    old_runs = StructType(RUNS_SCHEMA.fields[:20])
    df = _corpus(spark, 30, seed=65)
    hashed = {r.doc_id: r.text_sha256 for r in normalise_input(df, id_col="id", text_col="text").collect()}
    now = datetime.now(timezone.utc)
    row = (
        docs[0].id,
        "c0",
        0.9,
        None,
        None,
        None,
        "inc",
        "legacy",
        "single",
        "2023-04-01",
        "j",
        "old",
        hashed[docs[0].id],
        now,
    )
    spark.createDataFrame([row], old_results).write.format("delta").save(tables.path(RESULTS))
    spark.createDataFrame([], old_runs).write.format("delta").save(tables.path(RUNS))

    summary = _run(df, tables, settings, "upgraded", deployment="legacy")
    assert (summary.skipped_docs, summary.succeeded_docs) == (0, 30)  # an unknown model's row is reclassified
    results = read_table(spark, tables, RESULTS)
    assert set(NEW_COLUMNS) <= set(results.columns) and results.count() == 30
    assert {tuple(r) for r in results.select("model_label", "run_id").distinct().collect()} == {("m1", "upgraded")}
    run = read_table(spark, tables, RUNS).first()
    assert (run.model_label, run.model_id, run.skip_by) == ("m1", model_ids["m1"], "text+model")
    again = _run(df, tables, settings, "again", deployment="legacy")
    assert (again.skipped_docs, again.submits) == (30, 0)


def test_the_cli_prints_the_plan_and_refuses_over_the_cap(
    spark, models, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctc_spark.cli import main

    server, _, client, _ = models
    deploy_model(client, "inc", "m2", "cli", poll_interval=0.1)
    config = tmp_path / "settings.toml"
    config.write_text(f'[service]\nendpoint = "{server.endpoint}"\n')
    monkeypatch.setenv("AZURE_LANGUAGE_KEY", server.key)
    corpus = tmp_path / "corpus"
    _corpus(spark, 60, seed=66).write.json(str(corpus))
    tables = tmp_path / "tables"
    args = ["--config", str(config), "classify", "--project", "inc", "--deployment", "cli", "--kind", "single"]
    args += ["--input", str(corpus), "--tables", str(tables)]
    before = server.stats()
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "plan: 60 documents: 60 to send, 0 to skip, 0 invalid" in out and "text records billed" in out
    assert "nothing was sent or written (model m2)" in out and not tables.exists()
    with pytest.raises(SystemExit) as refused:
        main([*args, "--max-text-records", "1"])
    assert refused.value.code == 1
    err = capsys.readouterr().err
    assert "more than --max-text-records 1; nothing was sent" in err
    assert server.stats()["submits"] == before["submits"]
