"""Which columns an older table lacks (pure; the ALTER itself is covered by the integration tests)."""

from __future__ import annotations

from pyspark.sql.types import DoubleType, MapType, StringType, StructField, StructType

from ctc_spark.engine.ledger.tables import RESULTS_SCHEMA
from ctc_spark.io.evolution import missing_columns


def test_missing_columns_are_listed_in_schema_order_as_ddl() -> None:
    old = StructType([f for f in RESULTS_SCHEMA.fields if f.name not in ("model_label", "model_id")])
    assert missing_columns(old, RESULTS_SCHEMA) == ["`model_label` string", "`model_id` string"]
    assert missing_columns(RESULTS_SCHEMA, RESULTS_SCHEMA) == []


def test_names_compare_case_insensitively_and_complex_types_render() -> None:
    current = StructType([StructField("RUN_ID", StringType())])
    wanted = StructType(
        [StructField("run_id", StringType()), StructField("step_seconds", MapType(StringType(), DoubleType()))]
    )
    assert missing_columns(current, wanted) == ["`step_seconds` map<string,double>"]
