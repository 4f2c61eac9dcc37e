"""Training orchestration end to end: Azurite + the emulator + Spark + Delta, train -> evaluate -> deploy -> classify -> SQL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from training_rows import retrain_evaluation_documents

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings, Settings, StorageSettings
from ctc_spark.engine.run import run_classification
from ctc_spark.errors import InputError
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus
from ctc_spark.service.vocabulary import job_id_from_location
from ctc_spark.training.labels import LabelledDoc
from ctc_spark.training.workflow import (
    TrainOptions,
    deploy_model,
    labelled_docs,
    record_training,
    swap_deployments,
    train_model,
)

pytestmark = pytest.mark.integration


def _settings(server, azurite, container: str) -> Settings:
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    return Settings(
        service=ServiceSettings(resources=(resource,)),
        storage=StorageSettings(connection_string=Secret(azurite.connection_string), container=container),
    )


def _client(settings: Settings):
    from ctc_spark.service import AuthoringClient

    return AuthoringClient(settings.service.primary, settings.service)


def _blob_names(azurite, container: str) -> set[str]:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    client = service.get_container_client(container)
    return {b.name for b in client.list_blobs()} if client.exists() else set()


@pytest.fixture(scope="module")
def trainer_env(make_emulator, azurite):
    server = make_emulator(training_seconds=0.5)
    return server, azurite


def test_train_evaluate_deploy_classify_and_sql(spark, trainer_env, tmp_path: Path) -> None:
    server, azurite = trainer_env
    settings = _settings(server, azurite, "train-e2e")
    client = _client(settings)
    labelled = corpus_dataframe(spark, generate_corpus(300, n_classes=4, seed=31), kind="single")
    docs = labelled_docs(labelled, kind="single")
    options = TrainOptions(project="e2e", kind="single", model_label="m1", split=80, poll_interval=0.2)
    messages: list[str] = []
    result = train_model(settings, client, docs, options, progress=messages.append)
    assert result.uploaded == 300 and any("training" in m for m in messages)
    tables = TableLocation.parse(str(tmp_path / "tables"))
    summary = record_training(spark, tables, options, result, client)
    body = summary["customSingleLabelClassificationEvaluation"]
    assert body["microF1"] > 0.7 and set(body["classes"]) == set(result.report.classes)
    evals = read_table(spark, tables, "evaluations").filter("scope = 'class'").count()
    assert evals == 4 and read_table(spark, tables, "evaluation_documents").count() > 0
    deployed = deploy_model(client, "e2e", "m1", "prod", poll_interval=0.2)
    assert deployed["modelId"] == result.model["modelId"]
    deploy_model(client, "e2e", "m1", "staging", poll_interval=0.2)
    swap_deployments(client, "e2e", "prod", "staging", poll_interval=0.2)
    corpus = corpus_dataframe(spark, generate_corpus(500, n_classes=4, seed=32), kind="single")
    run = run_classification(
        corpus.drop("label"), project="e2e", deployment="prod", kind="single", tables=tables, settings=settings
    )
    assert run.succeeded_docs == 500
    agree = (
        spark.sql(
            f"SELECT avg(CAST(r.category = c.label AS INT)) a FROM {tables.name('results')} r "
            f"JOIN {{corpus}} c ON r.doc_id = c.id",
            corpus=corpus,
        )
        .first()
        .a
    )
    assert agree > 0.8
    # Training again with the same data and label duplicates neither blobs nor rows.
    again = train_model(settings, client, docs, options, progress=messages.append)
    assert (again.uploaded, again.existing_blobs) == (0, 300)
    record_training(spark, tables, options, again, client)
    assert read_table(spark, tables, "models").count() == 1
    assert read_table(spark, tables, "evaluations").filter("scope = 'class'").count() == 4


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (lambda d: d[:8], "8 documents"),
        (lambda d: [*d[:-1], LabelledDoc("x", "", ("sports",))], "'x' has an empty text"),
        (lambda d: [*d[:-1], LabelledDoc("x", "some text", (None,))], "null or empty label"),
        (lambda d: [*d[:-1], LabelledDoc("x", "some text", ("sports?",))], "forbids"),
    ],
)
def test_bad_labelled_data_uploads_nothing(trainer_env, bad, match: str) -> None:
    server, azurite = trainer_env
    settings = _settings(server, azurite, "bad-data")
    docs = [LabelledDoc(d.id, d.text, d.labels) for d in generate_corpus(20, n_classes=2, seed=33)]
    with pytest.raises(InputError, match=match):
        train_model(settings, _client(settings), bad(docs), TrainOptions(project="bad", kind="single", model_label="m"))
    assert _blob_names(azurite, "bad-data") == set()


def test_unknown_label_is_refused_before_upload(trainer_env) -> None:
    server, azurite = trainer_env
    settings = _settings(server, azurite, "unknown-label")
    docs = [LabelledDoc(d.id, d.text, d.labels) for d in generate_corpus(20, n_classes=2, seed=34)]
    allowed = tuple(sorted({d.labels[0] for d in docs}))[:1]
    options = TrainOptions(project="unknown", kind="single", model_label="m", classes=allowed)
    with pytest.raises(InputError, match=r"has unknown label '.+'; known: \["):
        train_model(settings, _client(settings), docs, options)
    assert _blob_names(azurite, "unknown-label") == set()


def test_interrupting_training_cancels_the_job(make_emulator, azurite) -> None:
    server = make_emulator(training_seconds=30.0)
    settings = _settings(server, azurite, "cancel-me")
    client = _client(settings)
    docs = [LabelledDoc(d.id, d.text, d.labels) for d in generate_corpus(40, n_classes=2, seed=35)]
    calls = {"n": 0}

    def interrupt(message: str) -> None:
        if message.startswith("training"):
            calls["n"] += 1
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_model(
            settings,
            client,
            docs,
            TrainOptions(project="cancel", kind="single", model_label="m", poll_interval=0.2),
            progress=interrupt,
        )
    jobs = client.list_training_jobs("cancel")
    assert calls["n"] == 1 and len(jobs) == 1
    # The emulator ends a cancelled job `failed` with OperationCancelled (the SDK's pollers know no `cancelled`).
    assert jobs[0]["status"] == "cancelled" or [e.get("code") for e in jobs[0].get("errors", [])] == [
        "OperationCancelled"
    ]
    assert not client.list_models("cancel")


def test_multi_label_from_a_delimited_string_and_a_manual_split(spark) -> None:
    rows = [("a", "first text", "billing;refunds", "train"), ("b", "second text", " shipping ", "TEST")]
    df = spark.createDataFrame(rows, "doc string, body string, tags string, part string")
    docs = labelled_docs(
        df, kind="multi", id_col="doc", text_col="body", label_col="tags", split_col="part", delimiter=";"
    )
    assert docs == [
        LabelledDoc("a", "first text", ("billing", "refunds"), "Train"),
        LabelledDoc("b", "second text", ("shipping",), "Test"),
    ]
    with pytest.raises(InputError, match="column 'label' not found"):
        labelled_docs(df, kind="single", id_col="doc", text_col="body")


def test_one_training_job_per_project_clear_error_or_wait(make_emulator, azurite) -> None:
    from ctc_spark.errors import ConflictError

    server = make_emulator(training_seconds=4.0)
    settings = _settings(server, azurite, "one-at-a-time")
    client = _client(settings)
    docs = [LabelledDoc(d.id, d.text, d.labels) for d in generate_corpus(30, n_classes=2, seed=36)]
    first = TrainOptions(project="busy", kind="single", model_label="m1", poll_interval=0.2)
    train_model(settings, client, docs, first, progress=lambda _: None)
    running = job_id_from_location(client.train("busy", model_label="m1", split=80))
    second = TrainOptions(project="busy", kind="single", model_label="m2", poll_interval=0.2)
    with pytest.raises(ConflictError, match=rf"already has a training job running \({running}\).*--wait"):
        train_model(settings, client, docs, second, progress=lambda _: None)
    messages: list[str] = []
    waited = train_model(settings, client, docs, replace(second, wait_for_running=True), progress=messages.append)
    assert any(f"waiting for running training job {running}" in m for m in messages)
    assert waited.model["label"] == "m2"
    assert client.get_training_job("busy", running)["status"] == "succeeded"


def test_a_retrained_label_replaces_its_evaluation_rows(spark, tmp_path: Path) -> None:
    left = retrain_evaluation_documents(spark, TableLocation.parse(str(tmp_path / "tables")))
    assert left == {("m1", "b.txt"), ("m1", "c.txt"), ("m2", "x.txt")}
