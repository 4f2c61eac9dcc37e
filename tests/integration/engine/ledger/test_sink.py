"""The ledger's Delta writes on real tables: one row per document, whatever the task attempts reported."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from delta_probes import operations, version
from ledger_fakes import result_row

from ctc_spark.engine.ledger import tables
from ctc_spark.engine.ledger.client import LedgerLink
from ctc_spark.engine.ledger.routing import ResultRouting
from ctc_spark.engine.ledger.service import LedgerService
from ctc_spark.engine.ledger.sink import DeltaSink, RunTarget
from ctc_spark.engine.ledger.writer import WriterTimings
from ctc_spark.io.tables import TableLocation, read_table

pytestmark = pytest.mark.integration

TARGET = RunTarget("run-1", "p", "d", "single", "2023-04-01")


def _rows(spark: object, location: TableLocation) -> dict[str, list[str | None]]:
    out: dict[str, list[str | None]] = {}
    for r in read_table(spark, location, tables.RESULTS).collect():  # type: ignore[arg-type]
        out.setdefault(r.doc_id, []).append(r.category)
    return out


def test_duplicate_reports_of_a_document_in_one_write_leave_one_row(spark, tmp_path: Path) -> None:
    location = TableLocation.parse(str(tmp_path / "tables"))
    tables.ensure_engine_tables(spark, location)
    sink = DeltaSink(spark, location, TARGET)
    late_error = result_row("d1", category=None, error_code="JobFailed")
    sink.write_results([result_row("d1", category="a"), late_error, result_row("d2"), result_row("d2")])
    assert _rows(spark, location) == {"d1": ["a"], "d2": ["c"]}
    sink.write_results([result_row("d2", category="b")])  # a later write replaces: still one row
    assert _rows(spark, location) == {"d1": ["a"], "d2": ["b"]}


def test_two_task_attempts_polling_the_same_job_leave_one_row_per_document(spark, tmp_path: Path) -> None:
    # A zombie (or speculative) attempt of a streaming task polls a job the live attempt also polled: both
    # report the same documents to the driver's ledger, in the same write group.
    location = TableLocation.parse(str(tmp_path / "tables"))
    tables.ensure_engine_tables(spark, location)
    timings = WriterTimings(commit_seconds=0.0, results_seconds=30.0, status_seconds=30.0)
    with LedgerService.for_run(spark, location, TARGET, serve=True, timings=timings) as service:

        async def attempt(category: str) -> None:
            link = LedgerLink(service.url, service.token)
            try:
                await link.events([result_row(f"d{i}", category=category) for i in range(5)], [])
            finally:
                await link.aclose()

        async def both() -> None:
            await asyncio.gather(attempt("live"), attempt("zombie"))

        asyncio.run(both())
    rows = _rows(spark, location)
    assert sorted(rows) == [f"d{i}" for i in range(5)]
    assert all(len(categories) == 1 for categories in rows.values())


def test_new_documents_are_appended_and_only_replacements_merged(spark, tmp_path: Path) -> None:
    location = TableLocation.parse(str(tmp_path / "tables"))
    tables.ensure_engine_tables(spark, location)
    DeltaSink(spark, location, TARGET).write_results([result_row("old", category="a")])  # an earlier night
    sink = DeltaSink(spark, location, TARGET, routing=ResultRouting(["old"]))
    v0 = version(spark, location, tables.RESULTS)
    sink.write_results([result_row("new-1"), result_row("old", category="b"), result_row("new-2")])
    assert operations(spark, location, tables.RESULTS, v0) == ["WRITE", "MERGE"]
    v1 = version(spark, location, tables.RESULTS)
    sink.write_results([result_row("new-3")])
    assert operations(spark, location, tables.RESULTS, v1) == ["WRITE"]  # a write of new documents only: one append
    v2 = version(spark, location, tables.RESULTS)
    sink.write_results([result_row("new-1", category="z")])  # a task attempt reporting a written batch again
    assert operations(spark, location, tables.RESULTS, v2) == ["MERGE"]
    assert _rows(spark, location) == {"old": ["b"], "new-1": ["z"], "new-2": ["c"], "new-3": ["c"]}


def test_invalid_documents_are_appended_unless_they_had_a_row(spark, tmp_path: Path) -> None:
    location = TableLocation.parse(str(tmp_path / "tables"))
    tables.ensure_engine_tables(spark, location)
    DeltaSink(spark, location, TARGET).write_results([result_row("old", category="a")])
    sink = DeltaSink(spark, location, TARGET, routing=ResultRouting(["old"]))
    schema = "doc_id STRING, text_sha256 STRING, error_code STRING, error_message STRING, has_row BOOLEAN"
    v0 = version(spark, location, tables.RESULTS)
    sink.write_result_frame(spark.createDataFrame([("e1", "s", "EmptyDocument", "empty", False)], schema))
    assert operations(spark, location, tables.RESULTS, v0) == ["WRITE"]  # no earlier row among them: no MERGE at all
    v1 = version(spark, location, tables.RESULTS)
    frame = [("e2", "s", "EmptyDocument", "empty", False), ("old", "s", "EmptyDocument", "empty", True)]
    sink.write_result_frame(spark.createDataFrame(frame, schema))
    assert operations(spark, location, tables.RESULTS, v1) == ["WRITE", "MERGE"]
    assert _rows(spark, location) == {"old": [None], "e1": [None], "e2": [None]}
