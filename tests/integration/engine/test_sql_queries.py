"""Every query in sql/, and every dataset of the Databricks dashboard, runs against real result tables written by
a small classification, so none can rot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.run import run_classification
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
QUERIES = sorted((REPO / "sql").glob("*.sql"))
SCHEMA = "spark_catalog.ctc_sql_queries"
TRAIN = generate_corpus(300, n_classes=4, seed=41, id_prefix="train")
_PARAM = re.compile(r"(?<![:\w]):([a-z_]+)\b")


@pytest.fixture(scope="module")
def tables(spark, make_emulator) -> str:
    """A metastore `catalog.schema` (what the queries' :tables names) holding one run's results and runs."""
    from ctc_spark.emulator import LatencyModel

    emulator = make_emulator(latency=LatencyModel(queue_seconds=0.05, per_document_seconds=0.002, spread=0.2))
    emulator.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    docs = generate_corpus(40, n_classes=4, seed=42)
    df = corpus_dataframe(spark, docs, kind="single").select("id", "text")
    blank = spark.createDataFrame([("blank", "  ")], "id string, text string")
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    resource = ResourceSettings(endpoint=emulator.endpoint, key=Secret(emulator.key), calls_per_minute=60_000)
    settings = Settings(service=ServiceSettings(resources=(resource,), max_retry_seconds=60))
    summary = run_classification(
        df.unionByName(blank),
        project="tickets",
        deployment="prod",
        kind="single",
        tables=SCHEMA,
        settings=settings,
        run_id="sql-queries",
    )
    assert (summary.succeeded_docs, summary.errored_docs) == (40, 1)
    return SCHEMA


def _run(spark, name: str, **args: str) -> list:
    text = (REPO / "sql" / name).read_text(encoding="utf-8")
    assert set(_PARAM.findall(text)) == set(args), f"{name} takes {sorted(set(_PARAM.findall(text)))}"
    return spark.sql(text, args=args).collect()


def test_every_query_is_covered() -> None:
    covered = {"result_classes.sql", "class_counts.sql", "errors_by_code.sql", "run_history.sql"}
    covered |= {"error_rate.sql", "run_throughput.sql", "job_states.sql"}
    assert {p.name for p in QUERIES} == covered | {"documents_by_model.sql"}


def test_result_classes_has_one_row_per_document_and_class(spark, tables: str) -> None:
    rows = _run(spark, "result_classes.sql", tables=tables)
    results = spark.table(f"{tables}.results").filter("error_code IS NULL").collect()
    assert len(rows) == sum(len(r.classes) for r in results)
    tops = [r.doc_id for r in rows if r.is_top]
    assert sorted(tops) == sorted(r.doc_id for r in results)
    assert "blank" not in {r.doc_id for r in rows}


def test_class_counts_add_up_to_the_documents_classified(spark, tables: str) -> None:
    rows = _run(spark, "class_counts.sql", tables=tables)
    assert sum(r.documents for r in rows) == 40
    assert all(r.category and 0 < r.mean_confidence <= 1 for r in rows)


def test_errors_by_code_counts_the_blank_document(spark, tables: str) -> None:
    rows = _run(spark, "errors_by_code.sql", tables=tables)
    assert [(r.error_code, r.documents) for r in rows] == [("EmptyDocument", 1)]


def test_run_history_lists_the_run(spark, tables: str) -> None:
    rows = _run(spark, "run_history.sql", tables=tables)
    assert [(r.run_id, r.status, r.input_docs, r.succeeded_docs, r.errored_docs) for r in rows] == [
        ("sql-queries", "succeeded", 41, 40, 1)
    ]


def test_documents_by_model_selects_one_model(spark, tables: str) -> None:
    results = spark.table(f"{tables}.results")
    if "model_label" not in results.columns:
        pytest.skip("results has no model_label column on this branch (the incremental work adds it)")
    labels = [r.model_label for r in results.select("model_label").distinct().collect() if r.model_label]
    assert labels, "no result row names its model"
    rows = _run(spark, "documents_by_model.sql", tables=tables, model_label=labels[0])
    assert len(rows) == results.filter(results.model_label == labels[0]).count() > 0
    assert {r.model_label for r in rows} == {labels[0]}


def test_error_rate_counts_the_runs_finished_in_the_last_day(spark, tables: str) -> None:
    (row,) = _run(spark, "error_rate.sql", tables=tables)
    assert (row.runs, row.errored_docs, row.classified_docs) == (1, 1, 41)
    assert row.error_rate == pytest.approx(1 / 41)


def test_run_throughput_has_one_row_per_finished_run(spark, tables: str) -> None:
    (row,) = _run(spark, "run_throughput.sql", tables=tables)
    run = spark.table(f"{tables}.runs").collect()[0]
    assert (row.run_id, row.classified_docs, row.text_records) == ("sql-queries", 41, run.text_records)
    assert row.calls == run.submits + run.polls > 0 and row.docs_per_second > 0
    assert row.text_records_per_doc == pytest.approx(run.text_records / 41, abs=0.01)


def _dashboard_datasets() -> dict[str, str]:
    content = json.loads((REPO / "resources" / "ctc_spark.lvdash.json").read_text(encoding="utf-8"))
    return {d["name"]: "".join(d["queryLines"]) for d in content["datasets"]}


def test_every_dashboard_dataset_runs_in_the_schema_the_dashboard_names(spark, tables: str) -> None:
    """The bundle sets the dashboard's dataset_catalog/dataset_schema: its queries name tables without them."""
    catalog, schema = tables.split(".")
    previous = spark.catalog.currentDatabase()
    spark.catalog.setCurrentDatabase(schema)
    try:
        assert spark.catalog.currentCatalog() == catalog
        rows = {name: spark.sql(query).collect() for name, query in _dashboard_datasets().items()}
    finally:
        spark.catalog.setCurrentDatabase(previous)
    assert rows["error_rate"][0].error_rate == pytest.approx(1 / 41)
    assert sum(r.documents for r in rows["class_counts"]) == 40
    assert [(r.error_code, r.documents) for r in rows["errors_by_code"]] == [("EmptyDocument", 1)]
    assert [r.run_id for r in rows["run_history"]] == [r.run_id for r in rows["run_throughput"]] == ["sql-queries"]


def test_the_job_states_view_gives_each_jobs_latest_event(spark, tables: str) -> None:
    # `jobs` is an event log: a job's id when it was committed, then its final state, each a row of its own.
    events = spark.table(f"{tables}.jobs")
    states = spark.table(f"{tables}.job_states").collect()
    jobs = events.select("batch_id", "job_id").distinct().count()
    assert events.count() >= 2 * jobs > 0
    assert len(states) == jobs and {s.status for s in states} == {"succeeded"}
    queried = _run(spark, "job_states.sql", tables=tables)
    assert sorted((r.batch_id, r.status) for r in queried) == sorted((s.batch_id, s.status) for s in states)
