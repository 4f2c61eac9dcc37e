"""The training module's tables under Spark Connect: a retrained label replaces its rows (no `DeltaTable` API)."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_rows import retrain_evaluation_documents

from ctc_spark.io.tables import TableLocation

pytestmark = pytest.mark.integration


def test_a_retrained_label_replaces_its_evaluation_rows_under_spark_connect(spark, tmp_path: Path) -> None:
    left = retrain_evaluation_documents(spark, TableLocation.parse(str(tmp_path / "tables")))
    assert left == {("m1", "b.txt"), ("m1", "c.txt"), ("m2", "x.txt")}
