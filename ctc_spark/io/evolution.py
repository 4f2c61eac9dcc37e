"""Schema evolution for tables an older version created: add the columns a schema constant has gained."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ctc_spark.io.tables import TableLocation

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

__all__ = ["add_missing_columns", "missing_columns"]

log = logging.getLogger(__name__)


def missing_columns(current: StructType, wanted: StructType) -> list[str]:
    """Columns of `wanted` that `current` lacks, as `name type` DDL, in `wanted`'s order (case-insensitive names)."""
    have = {f.name.lower() for f in current.fields}
    return [f"`{f.name}` {f.dataType.simpleString()}" for f in wanted.fields if f.name.lower() not in have]


def add_missing_columns(spark: SparkSession, location: TableLocation, table: str, wanted: StructType) -> list[str]:
    """Add (nullable, at the end) the columns of `wanted` the existing table lacks; returns the DDL added.

    Existing rows read the new columns as null. A table that already has every column is left untouched
    (no commit). A concurrent run that adds them first is fine: the table is read again and left alone.
    """
    name = location.name(table)
    added = missing_columns(spark.table(name).schema, wanted)
    if not added:
        return []
    try:
        spark.sql(f"ALTER TABLE {name} ADD COLUMNS ({', '.join(added)})")
    except Exception:
        if missing_columns(spark.table(name).schema, wanted):
            raise
        return []
    log.info("added columns to %s: %s", name, ", ".join(added))
    return added
