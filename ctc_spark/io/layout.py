"""A Delta table's layout and properties: created with them, and tables created without them upgraded in place.

Every ctc-spark table carries `TABLE_PROPERTIES` (deletion vectors, a checkpoint interval, log and deleted-file
retention) and, where its caller names columns, liquid clustering (`CLUSTER BY`). An older table gets both by
`ALTER TABLE ... SET TBLPROPERTIES` and `ALTER TABLE ... CLUSTER BY`: metadata commits that rewrite no data
file and keep the history (its files are clustered by the next `OPTIMIZE`, see `io/maintenance.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

    from ctc_spark.io.tables import TableLocation

__all__ = ["TABLE_PROPERTIES", "TableDetail", "create_sql", "describe_detail", "upgrade_sql", "upgrade_table"]

log = logging.getLogger(__name__)

# Deletion vectors: MERGE/DELETE mark rows instead of rewriting files. A checkpoint every 50 commits: a
# nightly run commits hundreds of small appends, and a checkpoint rewrites the state of every live file. The
# log is kept 14 days (time travel over two weeks of nights); removed files 7 days (VACUUM's default floor).
TABLE_PROPERTIES: dict[str, str] = {
    "delta.enableDeletionVectors": "true",
    "delta.checkpointInterval": "50",
    "delta.logRetentionDuration": "interval 14 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
}


@dataclass(frozen=True)
class TableDetail:
    """What `DESCRIBE DETAIL` says of a table: files, bytes, layout and properties."""

    num_files: int
    size_bytes: int
    partition_columns: tuple[str, ...]
    clustering_columns: tuple[str, ...]
    properties: Mapping[str, str]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TableDetail:
        return cls(
            int(row.get("numFiles") or 0),
            int(row.get("sizeInBytes") or 0),
            tuple(row.get("partitionColumns") or ()),
            tuple(row.get("clusteringColumns") or ()),
            dict(row.get("properties") or {}),
        )


def describe_detail(spark: SparkSession, location: TableLocation, table: str) -> TableDetail:
    """The table's `DESCRIBE DETAIL` (plain SQL: classic and Spark Connect)."""
    row = spark.sql(f"DESCRIBE DETAIL {location.name(table)}").first()
    return TableDetail.from_row(row.asDict() if row is not None else {})


def create_sql(
    name: str, schema: StructType, *, cluster_by: Sequence[str] = (), properties: Mapping[str, str] = TABLE_PROPERTIES
) -> str:
    """`CREATE TABLE IF NOT EXISTS` of `schema` with its clustering and properties: version 0 carries them all."""
    columns = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}" for f in schema.fields
    )
    cluster = f" CLUSTER BY ({_columns(cluster_by)})" if cluster_by else ""
    return f"CREATE TABLE IF NOT EXISTS {name} ({columns}) USING delta{cluster}{_tblproperties(properties)}"


def upgrade_sql(
    name: str, detail: TableDetail, *, cluster_by: Sequence[str] = (), properties: Mapping[str, str] = TABLE_PROPERTIES
) -> list[str]:
    """The `ALTER TABLE` statements that give an existing table the properties and clustering it lacks.

    None when it has them (the upgrade is idempotent). A partitioned table keeps its partitions: Delta cannot
    cluster one without rewriting it.
    """
    statements = []
    missing = {k: v for k, v in properties.items() if detail.properties.get(k) != v}
    if missing:
        statements.append(f"ALTER TABLE {name} SET{_tblproperties(missing)}")
    if cluster_by and not detail.partition_columns and tuple(detail.clustering_columns) != tuple(cluster_by):
        statements.append(f"ALTER TABLE {name} CLUSTER BY ({_columns(cluster_by)})")
    return statements


def upgrade_table(
    spark: SparkSession,
    location: TableLocation,
    table: str,
    *,
    cluster_by: Sequence[str] = (),
    properties: Mapping[str, str] = TABLE_PROPERTIES,
) -> list[str]:
    """Give a table created by an earlier version its properties and clustering, in place; returns the statements
    it ran (none when the table has them). Concurrent-commit conflicts are retried.
    """
    from ctc_spark.io.tables import retry_conflicts

    detail = describe_detail(spark, location, table)
    statements = upgrade_sql(location.name(table), detail, cluster_by=cluster_by, properties=properties)
    for statement in statements:
        log.info("upgrading %s: %s", table, statement)
        retry_conflicts(lambda s=statement: spark.sql(s), f"upgrade {table}")  # type: ignore[misc]
    return statements


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _tblproperties(properties: Mapping[str, str]) -> str:
    if not properties:
        return ""
    pairs = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(properties.items()))
    return f" TBLPROPERTIES ({pairs})"
