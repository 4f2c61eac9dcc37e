"""The driver engine packs a classic run's new batches in the driver: the same batches as Spark's packing of
the same partition, every document once, within the request limits."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ctc_spark.config import BatchSettings, ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.context import RunContext, RunSummary
from ctc_spark.engine.engines import DriverEngine
from ctc_spark.engine.planning.queries import driver_submits, stage_actions
from ctc_spark.io.tables import TableLocation

pytestmark = pytest.mark.integration


def _run(spark, tmp_path: Path) -> RunContext:
    resources = tuple(
        ResourceSettings(name=n, endpoint=f"http://127.0.0.1:9/{n}", key=Secret("k"), calls_per_minute=q)
        for n, q in (("east", 300), ("west", 100))
    )
    settings = Settings(service=ServiceSettings(resources=resources), batch=BatchSettings(max_chars_per_request=2_000))
    loc = TableLocation.parse(str(tmp_path / "tables"))
    return RunContext(spark, settings, loc, "p", "d", "single", RunSummary("r"), print, DriverEngine())


def _docs(spark, n: int):
    rows = [(f"doc-{i:04d}", "w" * (50 + (i * 37) % 400), f"sha-{i}") for i in range(n)]
    return spark.createDataFrame(rows[::-1], "doc_id STRING, text STRING, text_sha256 STRING")


def test_one_partition_packs_into_the_batches_spark_packs(spark, tmp_path: Path) -> None:
    run = _run(spark, tmp_path)
    valid = _docs(spark, 180).coalesce(1)
    mine = list(driver_submits(run, valid))
    theirs = [r.asDict(recursive=True) for r in stage_actions(run, valid, [], parts=1).collect()]
    assert mine == theirs
    assert {r["resource"] for r in mine} == {"east", "west"}
    assert all(r["action"] == "submit" and r["attempts"] == 0 and r["job_id"] is None for r in mine)


def test_every_document_goes_once_within_the_limits_whatever_the_partitions(spark, tmp_path: Path) -> None:
    run = _run(spark, tmp_path)
    valid = _docs(spark, 500).repartition(3)
    batches = list(driver_submits(run, valid))
    ids = [i for b in batches for i in b["doc_ids"]]
    assert sorted(ids) == sorted(f"doc-{i:04d}" for i in range(500))
    assert all(len(b["doc_ids"]) <= 25 and sum(map(len, b["texts"])) <= 2_000 for b in batches)
    # Each partition is packed in id order, and a batch may run on into the next partition (Spark's packing
    # leaves a part-filled batch at the end of every partition): the ids descend at most at the 2 boundaries.
    assert sum(a > b for a, b in itertools.pairwise(ids)) <= 2
    assert all(len(b["texts"]) == len(b["text_sha256s"]) == len(b["doc_ids"]) for b in batches)
