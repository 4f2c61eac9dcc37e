"""The plan's read of `results` costs the input, not the history: real Spark and Delta, files counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from delta_probes import files_read

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.context import RunContext, RunSummary
from ctc_spark.engine.engines import DriverEngine
from ctc_spark.engine.ledger.tables import RESULTS, RESULTS_SCHEMA, ensure_engine_tables
from ctc_spark.engine.planning.queries import to_classify
from ctc_spark.io.tables import TableLocation, append_rows

pytestmark = pytest.mark.integration


def _history(spark, location: TableLocation, nights: int, per_night: int) -> None:
    """`nights` appended files of `per_night` classified rows each, ids `hist-<night>-<n>`."""
    for night in range(nights):
        rows = [
            (f"hist-{night:03d}-{n:04d}", "a", 0.9, None, None, None, "p", "d", "single", "v", "j", f"r{night}",
             f"sha-{night}-{n}", None, None, None)
            for n in range(per_night)
        ]  # fmt: skip
        append_rows(spark, location, RESULTS, spark.createDataFrame(rows, RESULTS_SCHEMA))


def _run(spark, location: TableLocation, docs) -> RunContext:
    service = ServiceSettings(resources=(ResourceSettings(endpoint="http://127.0.0.1:9", key=Secret("k")),))
    run = RunContext(
        spark, Settings(service=service), location, "p", "d", "single", RunSummary("tonight"), print, DriverEngine()
    )
    ids = sorted(r.doc_id for r in docs.select("doc_id").collect())
    run.id_range = (ids[0], ids[-1])
    run.skip_by = "text"
    return run


def test_a_night_of_new_ids_reads_no_file_of_the_history_and_old_ids_read_only_theirs(spark, tmp_path: Path) -> None:
    location = TableLocation.parse(str(tmp_path / "tables"))
    ensure_engine_tables(spark, location)
    _history(spark, location, nights=6, per_night=50)
    new = spark.createDataFrame(
        [(f"new-{n:04d}", f"text {n}", f"s{n}") for n in range(40)], "doc_id string, text string, text_sha256 string"
    )
    planned = to_classify(_run(spark, location, new), new)
    assert planned.count() == 40 and planned.filter("has_row").count() == 0
    # (a fresh frame each time: a frame keeps the physical plan of its first execution)
    assert files_read(to_classify(_run(spark, location, new), new)) == 0  # the input is in memory: any file is history

    # Two documents of night 2 come back, one with its text changed, with a new one in their id range: only
    # night 2's file is read.
    old = spark.createDataFrame(
        [("hist-002-0001", "t", "sha-2-1"), ("hist-002-0007", "t", "changed"), ("hist-002-9999", "t", "s1")],
        "doc_id string, text string, text_sha256 string",
    )
    planned = to_classify(_run(spark, location, old), old)
    assert sorted((r.doc_id, r.has_row) for r in planned.collect()) == [
        ("hist-002-0007", True),
        ("hist-002-9999", False),
    ]
    assert files_read(to_classify(_run(spark, location, old), old)) == 1
    # Ids spanning the history (the case the range cannot help: random ids) read every file of it.
    spread = spark.createDataFrame([("hist-000-0001", "t", "x"), ("hist-005-0001", "t", "y")], old.schema)
    assert files_read(to_classify(_run(spark, location, spread), spread)) == 6
