"""The engine end to end: real Spark local[2], real Delta, the real emulator on loopback."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import JOBS, RESULTS, RUNS
from ctc_spark.engine.planning.estimate import text_records
from ctc_spark.engine.run import run_classification
from ctc_spark.errors import InputError
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
TRAIN = generate_corpus(600, n_classes=5, seed=11, id_prefix="train")
FAST_LATENCY = {"queue_seconds": 0.05, "per_document_seconds": 0.002, "spread": 0.2}
TRAIN_MULTI = generate_corpus(800, kind="multi", n_classes=5, seed=12, id_prefix="train")


def _settings(server, *, cpm: int = 60_000, **batch) -> Settings:
    resource = ResourceSettings(endpoint=server.endpoint, key=Secret(server.key), calls_per_minute=cpm)
    return Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=60), batch=BatchSettings(**batch))


@pytest.fixture(scope="module")
def deployed(make_emulator):
    from ctc_spark.emulator import LatencyModel

    emulator = make_emulator(latency=LatencyModel(**FAST_LATENCY))
    emulator.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    emulator.seed_deployment(
        "topics", "prod", kind="multi", texts=[d.text for d in TRAIN_MULTI], labels=[d.labels for d in TRAIN_MULTI]
    )
    return emulator


def _child_env(spark, **extra: str) -> dict[str, str]:
    """The environment of a `classify` subprocess: a Spark Connect session's tier runs it under SPARK_REMOTE too."""
    from ctc_spark.io.connect import is_connect

    # pyspark marks this process as a Connect client; the child starts its own local server.
    skip = {"SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE", "SPARK_REMOTE", "SPARK_CONNECT_AUTHENTICATE_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in skip} | extra
    if is_connect(spark):
        env["SPARK_REMOTE"] = "local[2]"
    return env


def _results(spark, tables: str, project: str):
    return read_table(spark, TableLocation.parse(tables), RESULTS).filter(f"project_name = '{project}'")


def test_single_label_corpus_every_row_and_rerun_makes_no_calls(spark, deployed, tmp_path: Path) -> None:
    docs = generate_corpus(5000, n_classes=5, seed=21)
    df = corpus_dataframe(spark, docs, kind="single")
    tables = str(tmp_path / "tables")
    before = deployed.stats()
    summary = run_classification(
        df,
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=_settings(deployed),
        run_id="first",
    )
    assert (summary.input_docs, summary.succeeded_docs, summary.errored_docs) == (5000, 5000, 0)
    # 25 documents per request, one submit each; each partition may end with one partial request.
    assert 200 <= summary.submits <= 202 and summary.polls >= summary.submits
    rows = {r.doc_id: r for r in _results(spark, tables, "tickets").collect()}
    assert len(rows) == 5000
    agree = sum(rows[d.id].category == d.labels[0] for d in docs) / len(docs)
    assert agree > 0.8, f"predictions agree with labels only {agree:.0%} (chance is 20%)"
    one = rows[docs[0].id]
    assert one.job_id and one.run_id == "first" and one.kind == "single" and one.api_version == "2023-04-01"
    assert 0.0 < one.confidence <= 1.0 and one.classes[0].category == one.category
    middle = deployed.stats()
    assert middle["submits"] - before["submits"] == summary.submits
    again = run_classification(
        df,
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=_settings(deployed),
        run_id="second",
    )
    after = deployed.stats()
    assert (after["submits"], after["polls"]) == (middle["submits"], middle["polls"])
    assert (again.skipped_docs, again.submits, again.polls) == (5000, 0, 0)
    runs = {r.run_id: r for r in read_table(spark, TableLocation.parse(tables), RUNS).collect()}
    assert runs["first"].status == "succeeded" and runs["first"].succeeded_docs == 5000
    assert runs["first"].text_records >= 5000 and "ctc-test-key" not in runs["first"].config
    exploded = spark.sql(f"SELECT count(*) c FROM ({_classes_sql(tables)})").first().c
    assert exploded == 5000


def _classes_sql(tables: str) -> str:
    from ctc_spark.engine.ledger.tables import classes_query

    return classes_query(TableLocation.parse(tables).name(RESULTS))


def test_multi_label_corpus(spark, deployed, tmp_path: Path) -> None:
    docs = generate_corpus(5000, kind="multi", n_classes=5, seed=22)
    df = corpus_dataframe(spark, docs, kind="multi")
    tables = str(tmp_path / "tables")
    summary = run_classification(
        df, project="topics", deployment="prod", kind="multi", tables=tables, settings=_settings(deployed)
    )
    assert summary.input_docs == 5000 and summary.errored_docs == 0
    rows = {r.doc_id: r for r in _results(spark, tables, "topics").collect()}
    assert len(rows) == 5000
    hits = sum(bool(rows[d.id].category) and rows[d.id].category in d.labels for d in docs) / len(docs)
    assert hits > 0.7, f"top class is one of the true labels for only {hits:.0%}"
    assert any(len(r.classes) > 1 for r in rows.values())


def test_bad_inputs_become_error_rows_and_duplicates_are_refused(spark, deployed, tmp_path: Path) -> None:
    rows = [
        ("ok-1", TRAIN[0].text),
        ("null-1", None),
        ("empty-1", ""),
        ("blank-1", "   "),
        ("big-1", "word " * 400),
        ("ok-2", TRAIN[1].text),
    ]
    df = spark.createDataFrame(rows, "id STRING, text STRING")
    tables = str(tmp_path / "tables")
    summary = run_classification(
        df,
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=_settings(deployed, max_chars_per_document=1000),
    )
    got = {r.doc_id: r.error_code for r in _results(spark, tables, "tickets").collect()}
    assert got == {
        "ok-1": None,
        "ok-2": None,
        "null-1": "NullDocument",
        "empty-1": "EmptyDocument",
        "blank-1": "EmptyDocument",
        "big-1": "DocumentTooLarge",
    }
    assert (summary.succeeded_docs, summary.errored_docs, summary.submits) == (2, 4, 1)
    # Every valid document succeeded: the billed records are the plan's count of them, the invalid ones not in it.
    assert summary.text_records == text_records(len(TRAIN[0].text)) + text_records(len(TRAIN[1].text))
    dup = spark.createDataFrame([("a", "x"), ("a", "y")], "id STRING, text STRING")
    with pytest.raises(InputError, match=r"duplicate document ids.*'a' x2"):
        run_classification(
            dup, project="tickets", deployment="prod", kind="single", tables=tables, settings=_settings(deployed)
        )
    with pytest.raises(InputError, match="column 'body' not found"):
        run_classification(
            df,
            project="tickets",
            deployment="prod",
            kind="single",
            tables=tables,
            settings=_settings(deployed),
            text_col="body",
        )


def test_bytes_that_are_not_utf8_give_that_document_an_encoding_error_row(spark, deployed, tmp_path: Path) -> None:
    from ctc_spark.io.inputs import read_corpus

    folder = tmp_path / "texts"
    folder.mkdir()
    for i, doc in enumerate(TRAIN[:5]):
        (folder / f"utf8-{i}.txt").write_text(doc.text + " café", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("Le café est froid, la crème aussi.".encode("latin-1"))
    tables = str(tmp_path / "tables")
    summary = run_classification(
        read_corpus(spark, str(folder)),
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=_settings(deployed),
        run_id="encodings",
    )
    got = {r.doc_id: r for r in _results(spark, tables, "tickets").collect()}
    assert set(got) == {f"utf8-{i}" for i in range(5)} | {"latin1"}
    assert got["latin1"].error_code == "InvalidEncoding" and "not valid UTF-8" in got["latin1"].error_message
    assert all(got[f"utf8-{i}"].error_code is None and got[f"utf8-{i}"].category for i in range(5))
    assert (summary.succeeded_docs, summary.errored_docs) == (5, 1)
    binary = spark.createDataFrame(
        [("bin-ok", bytearray(TRAIN[6].text.encode())), ("bin-bad", bytearray(b"\xff\xfe\x00binary"))],
        "id STRING, text BINARY",
    )
    run_classification(
        binary, project="tickets", deployment="prod", kind="single", tables=tables, settings=_settings(deployed)
    )
    codes = {r.doc_id: r.error_code for r in _results(spark, tables, "tickets").collect()}
    assert (codes["bin-ok"], codes["bin-bad"]) == (None, "InvalidEncoding")


def test_faults_still_give_exactly_one_row_per_document(spark, make_emulator, tmp_path: Path) -> None:
    from ctc_spark.emulator import FaultProfile, LatencyModel

    server = make_emulator(seed=5, latency=LatencyModel(**FAST_LATENCY))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    server.set_faults(
        FaultProfile(
            error_500_rate=0.05,
            throttle_burst_every=40,
            throttle_burst_length=3,
            fail_next_jobs=1,
            reset_next_requests=1,
        )
    )
    docs = generate_corpus(1500, n_classes=5, seed=23)
    tables = str(tmp_path / "tables")
    summary = run_classification(
        corpus_dataframe(spark, docs, kind="single"),
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=_settings(server),
    )
    rows = _results(spark, tables, "tickets").collect()
    assert sorted(r.doc_id for r in rows) == sorted(d.id for d in docs)
    assert summary.succeeded_docs + summary.errored_docs == 1500
    assert summary.resubmitted_batches >= 1, "the failed job's batch should have been submitted again"
    assert summary.throttled >= 1 and summary.retries >= 1
    stats = server.stats()
    assert stats["throttled"] >= 1


def test_the_resource_burst_is_spent_without_a_429_and_an_overstated_one_costs_429s_not_the_run(
    spark, make_emulator, tmp_path: Path
) -> None:
    from dataclasses import replace

    from ctc_spark.emulator import LatencyModel

    # 120 calls/min, and the emulator's bucket holds 10 s of it: 20 calls at once.
    server = make_emulator(calls_per_minute=120, burst_seconds=10.0, latency=LatencyModel(**FAST_LATENCY))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    docs = generate_corpus(500, n_classes=5, seed=29)  # 20 jobs: 40 calls at least, twice the burst

    def run(burst_calls: int, folder: str):
        base = _settings(server, cpm=120)
        resource = replace(base.service.primary, burst_calls=burst_calls)
        before = server.stats()["throttled"]
        summary = run_classification(
            corpus_dataframe(spark, docs, kind="single"),
            project="tickets",
            deployment="prod",
            kind="single",
            tables=str(tmp_path / folder),
            settings=base.with_resources(resource),
        )
        assert summary.succeeded_docs == 500, folder
        return summary, server.stats()["throttled"] - before

    summary, refused = run(20, "told")
    assert refused == 0 and summary.throttled == 0
    # Told three times what the resource holds, the run spends it: the service refuses what it never had, and
    # the run still classifies every document.
    summary, refused = run(60, "overstated")
    assert refused >= 1 and summary.throttled >= 1


def test_a_document_the_service_refuses_inside_a_batch_leaves_the_others_classified(
    spark, deployed, tmp_path: Path
) -> None:
    from ctc_spark.emulator import FaultProfile

    docs = generate_corpus(25, n_classes=5, seed=25)
    refused = docs[11].id
    texts = {d.id: (d.text + " ") * 40 if d.id == refused else d.text for d in docs}
    assert len(texts[refused]) > 3000 > max(len(t) for i, t in texts.items() if i != refused)
    df = spark.createDataFrame([(i, t) for i, t in texts.items()], "id STRING, text STRING").coalesce(1)
    tables = str(tmp_path / "tables")
    deployed.set_faults(FaultProfile(refuse_documents_over=3000))  # a 400 for any request that holds it
    try:
        summary = run_classification(
            df, project="tickets", deployment="prod", kind="single", tables=tables, settings=_settings(deployed)
        )
    finally:
        deployed.set_faults(FaultProfile())
    assert (summary.input_docs, summary.succeeded_docs, summary.errored_docs) == (25, 24, 1)
    # A valid document ended with an error row: the billed records are the 24 classified texts', not the plan's.
    assert summary.text_records == sum(text_records(len(t)) for i, t in texts.items() if i != refused)
    rows = {r.doc_id: r for r in _results(spark, tables, "tickets").collect()}
    assert sorted(rows) == sorted(texts)
    assert {i for i, r in rows.items() if r.error_code} == {refused}
    assert rows[refused].error_code == "RequestRejected" and "InvalidDocument" in rows[refused].error_message
    assert all(r.category for i, r in rows.items() if i != refused)
    jobs = read_table(spark, TableLocation.parse(tables), JOBS).filter("status = 'rejected'").collect()
    # The batch of 25 was refused, then each half that held the document, down to the document alone.
    sizes = sorted(len(j.doc_ids) for j in jobs)
    assert sizes[0] == 1 and sizes[-1] == 25 and all(b // 2 <= a <= (b + 1) // 2 for a, b in itertools.pairwise(sizes))
    assert all(refused in j.doc_ids for j in jobs) and min(jobs, key=lambda j: len(j.doc_ids)).doc_ids == [refused]


def test_sigkill_mid_run_resumes_without_duplicates_or_losses(spark, make_emulator, tmp_path: Path) -> None:
    from ctc_spark.emulator import LatencyModel
    from ctc_spark.io.connect import is_connect

    server = make_emulator(calls_per_minute=1200, burst_seconds=1.0, latency=LatencyModel(**FAST_LATENCY))
    server.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    docs = generate_corpus(2000, n_classes=5, seed=24)
    corpus = tmp_path / "corpus"
    corpus_dataframe(spark, docs, kind="single").write.parquet(str(corpus))
    tables = str(tmp_path / "tables")
    config = tmp_path / "settings.toml"
    # At 1,100 calls/min `auto` would give local[2] the driver engine: the classic tier kills the executor
    # engine's driver, the Connect tier (which collects this test again) the driver engine's.
    engine = "auto" if is_connect(spark) else "executors"
    config.write_text(
        f'[service]\nendpoint = "{server.endpoint}"\ncalls_per_minute = 1100\n[engine]\nmax_uncommitted_jobs = 16\n'
        f'engine = "{engine}"\n[spark]\nmaster = "local[2]"\n[spark.conf]\n"spark.ui.enabled" = "false"\n'
        '"spark.sql.shuffle.partitions" = "2"\n'
    )
    env = _child_env(spark, AZURE_LANGUAGE_KEY=server.key, PYSPARK_PYTHON=sys.executable)
    cmd = [
        sys.executable,
        str(REPO / "jobs" / "classify.py"),
        "--config",
        str(config),
        "--project",
        "tickets",
        "--deployment",
        "prod",
        "--kind",
        "single",
        "--input",
        str(corpus),
        "--tables",
        tables,
        "--run-id",
        "killed",
    ]
    log = tmp_path / "killed.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 900  # a hang guard: a loaded machine can take minutes to start Spark
        # Kill mid-stream: some jobs submitted (and some committed), most of the corpus not yet.
        while server.stats()["submits"] < 30 and proc.poll() is None:
            assert time.monotonic() < deadline, "the job never submitted anything"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it could be killed: {log.read_text()[-2000:]}"
    killed_submits = server.stats()["submits"]
    assert 0 < killed_submits < 80, "the run finished (or never submitted) before the kill"
    from ctc_spark.config import load_settings

    settings = load_settings(config, env={"AZURE_LANGUAGE_KEY": server.key})
    summary = run_classification(
        spark.read.parquet(str(corpus)),
        project="tickets",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=settings,
        run_id="resumed",
    )
    rows = _results(spark, tables, "tickets").collect()
    ids = [r.doc_id for r in rows]
    assert len(ids) == len(set(ids)) == 2000
    assert all(r.error_code is None for r in rows)
    total = server.stats()["submits"]
    # 2,000 documents pack into 80 requests (plus at most one partial request per partition). At most
    # `max_uncommitted_jobs` = 16 submitted jobs are ever uncommitted, so at most 16 are paid for twice.
    assert 80 <= total <= 82 + 16, f"{total} submits for about 80 batches: more than max_uncommitted_jobs were redone"
    assert summary.resumed_jobs >= 1, "committed jobs of the killed run should have been polled, not resubmitted"
    assert summary.skipped_docs + summary.succeeded_docs == 2000


def test_classify_returns_the_input_with_one_result_struct(spark, deployed, tmp_path: Path) -> None:
    from ctc_spark import classify

    docs = generate_corpus(120, n_classes=5, seed=31)
    df = corpus_dataframe(spark, docs, kind="single").withColumnRenamed("id", "doc").withColumn("extra", F.lit(7))
    tables = str(tmp_path / "tables")
    common = {"project": "tickets", "deployment": "prod", "kind": "single", "settings": _settings(deployed)}
    scored = classify(df, tables=tables, id_col="doc", **common)
    assert scored.columns == [*df.columns, "ctc"]
    rows = scored.collect()
    assert len(rows) == 120 and all(r.ctc is not None and r.ctc.doc_id == r.doc for r in rows)
    assert all(r.ctc.error_code is None and r.ctc.category for r in rows) and {r.extra for r in rows} == {7}
    named = classify(df, tables=tables, id_col="doc", result_col="prediction", **common)
    assert named.columns[-1] == "prediction" and named.count() == 120
    before = deployed.stats()["submits"]
    with pytest.raises(InputError, match="'extra'") as info:
        classify(df, tables=tables, id_col="doc", result_col="extra", **common)
    assert info.value.column == "extra"
    assert deployed.stats()["submits"] == before, "a refused call must not reach the service"
    runs = read_table(spark, TableLocation.parse(tables), RUNS).collect()
    assert all('"max_uncommitted_jobs": 2000' in r.config for r in runs)
