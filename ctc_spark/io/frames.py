"""Small DataFrames of rows the driver holds (a lease row, a run's row, a group of job events), with no Python worker.

`spark.createDataFrame(rows, schema)` on a list parallelizes pickled rows: the first write of a run starts a
Python worker (seconds, on a cold 2-CPU machine) and every later one pickles its rows through it. An Arrow
table reaches the JVM as Arrow batches instead (classic: `PythonSQLUtils.toDataFrame`; Spark Connect: a local
relation), so the ledger's writes run in the JVM alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["local_frame"]


def local_frame(
    spark: SparkSession, rows: Iterable[Sequence[Any] | Mapping[str, Any]], schema: StructType
) -> DataFrame:
    """A DataFrame of `rows` (tuples in the schema's column order, or dicts by column name) with `schema`.

    Timestamps must be timezone-aware `datetime`s: a naive one has no instant (a pickled row would read it in
    the driver's local zone, an Arrow one in UTC).

    Raises:
        TypeError: a row has the wrong number of values, a naive datetime, or a value its column's type cannot
            hold; names the column.
    """
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    names = schema.fieldNames()
    records = [_record(names, row) for row in rows]
    try:
        table = pa.Table.from_pylist(records, schema=to_arrow_schema(schema))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise TypeError(f"rows do not fit the schema ({', '.join(names)}): {exc}") from None
    return spark.createDataFrame(table, schema)


def _record(names: list[str], row: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(row, Mapping):
        record = {name: row.get(name) for name in names}
    else:
        if len(row) != len(names):
            raise TypeError(f"a row has {len(row)} values for the {len(names)} columns {', '.join(names)}")
        record = dict(zip(names, row, strict=True))
    for name, value in record.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            raise TypeError(f"column {name!r}: a naive datetime ({value.isoformat()}) has no time zone")
    return record
