"""The training module under Spark Connect, where the driver makes the calls and `DeltaTable` is not there:
train, record the evaluation, train the label again (its rows replaced), deploy, classify with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_rows import retrain_evaluation_documents

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings, Settings, StorageSettings
from ctc_spark.engine.run import run_classification
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus
from ctc_spark.service import AuthoringClient
from ctc_spark.training.workflow import TrainOptions, deploy_model, labelled_docs, record_training, train_model

pytestmark = pytest.mark.integration


def test_a_retrained_label_replaces_its_evaluation_rows_under_spark_connect(spark, tmp_path: Path) -> None:
    left = retrain_evaluation_documents(spark, TableLocation.parse(str(tmp_path / "tables")))
    assert left == {("m1", "b.txt"), ("m1", "c.txt"), ("m2", "x.txt")}


def test_train_record_again_deploy_and_classify_under_spark_connect(
    spark, make_emulator, azurite, tmp_path: Path
) -> None:
    server = make_emulator(training_seconds=0.5)
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    settings = Settings(
        service=ServiceSettings(resources=(resource,)),
        storage=StorageSettings(connection_string=Secret(azurite.connection_string), container="train-connect"),
    )
    client = AuthoringClient(resource, settings.service)
    labelled = corpus_dataframe(spark, generate_corpus(240, n_classes=4, seed=41), kind="single")
    docs = labelled_docs(labelled, kind="single")
    options = TrainOptions(project="remote", kind="single", model_label="m1", split=80, poll_interval=0.2)
    tables = TableLocation.parse(str(tmp_path / "tables"))
    for _ in range(2):  # the second time replaces the label's model and evaluation rows
        result = train_model(settings, client, docs, options, progress=lambda _: None)
        record_training(spark, tables, options, result, client)
    assert read_table(spark, tables, "models").count() == 1
    assert read_table(spark, tables, "evaluations").filter("scope = 'class'").count() == 4
    assert deploy_model(client, "remote", "m1", "prod", poll_interval=0.2)["modelId"] == result.model["modelId"]
    corpus = corpus_dataframe(spark, generate_corpus(100, n_classes=4, seed=42), kind="single").drop("label")
    run = run_classification(
        corpus, project="remote", deployment="prod", kind="single", tables=tables, settings=settings
    )
    assert (run.succeeded_docs, run.errored_docs) == (100, 0) and run.model_label == "m1"
