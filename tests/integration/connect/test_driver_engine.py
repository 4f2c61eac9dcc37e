"""The driver engine's own guarantees under Spark Connect: table inputs, no ledger socket, calls only from the driver,
and `SPARK_REMOTE=local[2] ctc-spark classify` from the command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import RESULTS
from ctc_spark.engine.run import run_classification
from ctc_spark.io.inputs import read_input
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(600, n_classes=5, seed=11, id_prefix="train")
FAST_LATENCY = {"queue_seconds": 0.05, "per_document_seconds": 0.002, "spread": 0.2}
CTC_SPARK = Path(sys.executable).with_name("ctc-spark")


@pytest.fixture(scope="module")
def server(make_emulator):
    from ctc_spark.emulator import LatencyModel

    emulator = make_emulator(latency=LatencyModel(**FAST_LATENCY))
    emulator.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    return emulator


def test_table_input_runs_on_the_driver_with_no_ledger_socket(spark, server, monkeypatch) -> None:
    docs = generate_corpus(1000, n_classes=5, seed=31)
    spark.sql("CREATE SCHEMA IF NOT EXISTS corpus_db")
    corpus_dataframe(spark, docs, kind="single").write.format("delta").mode("overwrite").saveAsTable("corpus_db.docs")
    listened: list[object] = []
    real_listen = socket.socket.listen

    def listen(sock: socket.socket, *args: object) -> None:
        listened.append(sock.getsockname())
        real_listen(sock, *args)

    # The emulator and the Connect server were started before; anything listening from here on is the run's.
    monkeypatch.setattr(socket.socket, "listen", listen)
    before = server.stats()
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=60_000)
    settings = Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=60), batch=BatchSettings())
    summary = run_classification(
        read_input(spark, "spark_catalog.corpus_db.docs"),
        project="tickets",
        deployment="prod",
        kind="single",
        tables="spark_catalog.ctc_out",  # a metastore schema: MERGE INTO metastore tables under Connect too
        settings=settings,
        run_id="from-table",
    )
    after = server.stats()
    assert listened == [], f"the driver engine opened a listening socket: {listened}"
    assert (summary.input_docs, summary.succeeded_docs, summary.tasks) == (1000, 1000, 1)
    # Every call the service saw was counted by the driver's own clients: no UDF made an HTTP call.
    assert after["submits"] - before["submits"] == summary.submits >= 40
    assert after["polls"] - before["polls"] == summary.polls
    rows = {r.doc_id: r for r in read_table(spark, TableLocation.parse("spark_catalog.ctc_out"), RESULTS).collect()}
    assert sorted(rows) == sorted(d.id for d in docs)
    agree = sum(rows[d.id].category == d.labels[0] for d in docs) / len(docs)
    assert agree > 0.8, f"predictions agree with labels only {agree:.0%} (chance is 20%)"
    assert {r.run_id for r in rows.values()} == {"from-table"}
    schema_only = read_input(spark, "corpus_db.docs")
    assert schema_only.count() == 1000


def test_cli_under_spark_remote(spark, server, tmp_path: Path) -> None:
    from ctc_spark.engine.ledger.tables import RUNS

    docs = generate_corpus(300, n_classes=5, seed=32)
    corpus = tmp_path / "corpus"
    corpus_dataframe(spark, docs, kind="single").write.parquet(str(corpus))
    tables = tmp_path / "tables"
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[service]\nendpoint = "{server.endpoint}"\ncalls_per_minute = 60000\n'
        '[spark.conf]\n"spark.ui.enabled" = "false"\n"spark.sql.shuffle.partitions" = "2"\n'
    )
    skip = {"SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE", "SPARK_CONNECT_AUTHENTICATE_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env |= {"SPARK_REMOTE": "local[2]", "AZURE_LANGUAGE_KEY": server.key, "SPARK_TESTING": "1"}
    args = ["--project", "tickets", "--deployment", "prod", "--kind", "single"]
    args += ["--input", str(corpus), "--tables", str(tables), "--run-id", "cli"]
    done = subprocess.run(
        [str(CTC_SPARK), "--config", str(config), "classify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "run cli: 300 input = 0 skipped + 300 succeeded + 0 errored" in done.stdout
    results = spark.read.format("delta").load(str(tables / RESULTS))
    assert results.count() == results.select("doc_id").distinct().count() == 300
    run = spark.read.format("delta").load(str(tables / RUNS)).filter("run_id = 'cli'").first()
    assert run.status == "succeeded" and run.succeeded_docs == 300
