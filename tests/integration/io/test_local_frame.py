"""`local_frame`: the ledger's rows reach Delta through Arrow (no Python worker) exactly as pickled rows did."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ctc_spark.engine.lease import LEASES_SCHEMA
from ctc_spark.engine.ledger.tables import JOBS_SCHEMA, RUNS_SCHEMA
from ctc_spark.io.frames import local_frame

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 5, 13, 59, 1, 250000, tzinfo=timezone.utc)


def _row(schema, overrides: dict) -> tuple:
    """A row with a value of its type in every column (`overrides` by name), None where the type is not listed."""
    from pyspark.sql import types as T

    samples = {
        T.StringType: "x\u00e9\U0001f600",
        T.LongType: 2**40,
        T.IntegerType: 7,
        T.DoubleType: 0.125,
        T.TimestampType: AT,
        T.ArrayType: ["a", None, "c"],
        T.MapType: {"planning": 1.5, "open": 0.25},
    }
    return tuple(overrides.get(f.name, samples.get(type(f.dataType))) for f in schema.fields)


@pytest.mark.parametrize("schema", [JOBS_SCHEMA, RUNS_SCHEMA, LEASES_SCHEMA], ids=["jobs", "runs", "leases"])
def test_rows_read_back_as_the_pickled_path_gives_them(spark, schema) -> None:
    rows = [_row(schema, {}), _row(schema, {f.name: None for f in schema.fields[1:]})]
    arrow = local_frame(spark, rows, schema)
    pickled = spark.createDataFrame(rows, schema)
    assert arrow.schema == schema
    assert arrow.collect() == pickled.collect()
    by_name = local_frame(spark, [dict(zip(schema.fieldNames(), rows[0], strict=True))], schema)
    assert by_name.collect() == pickled.collect()[:1]


def test_a_naive_datetime_a_short_row_and_a_wrong_type_are_refused_by_column(spark) -> None:
    naive = _row(RUNS_SCHEMA, {"started_at": datetime(2026, 12, 5, 13, 59)})
    with pytest.raises(TypeError, match="column 'started_at': a naive datetime"):
        local_frame(spark, [naive], RUNS_SCHEMA)
    with pytest.raises(TypeError, match="a row has 2 values for the 10 columns lease_key"):
        local_frame(spark, [("k", "r")], LEASES_SCHEMA)
    with pytest.raises(TypeError, match="rows do not fit the schema"):
        local_frame(spark, [_row(LEASES_SCHEMA, {"pid": "not a number"})], LEASES_SCHEMA)
