"""Where ctc-spark's Delta tables live (a folder or a `catalog.schema`), and the one way to create and MERGE them."""

from __future__ import annotations

import contextlib
import logging
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ctc_spark.errors import ConfigError, LedgerError
from ctc_spark.io.connect import is_connect

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
    from pyspark.sql.types import StructType

__all__ = [
    "TableLocation",
    "append_rows",
    "conflict_backoff",
    "create_table_with_rows",
    "delete_rows",
    "ensure_table",
    "is_conflict",
    "merge_condition",
    "merge_rows",
    "quote_identifier",
    "read_table",
    "replace_rows",
    "retry_conflicts",
    "sql_literal",
    "sql_string",
    "table_exists",
    "update_rows",
]

log = logging.getLogger(__name__)

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_QUOTED = r"`(?:[^`]|``)+`"
_PART = rf"(?:{_IDENT}|{_QUOTED})"
_METASTORE = re.compile(rf"^({_PART})\.({_PART})$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")
_MERGE_ATTEMPTS = 8
_BACKOFF_SECONDS = 0.25
_BACKOFF_CAP_SECONDS = 8.0


def quote_identifier(name: str) -> str:
    """`name` as one Spark SQL identifier: backticked, a backtick inside doubled (what the SQL lexer reads back).

    Raises:
        ConfigError: the name is empty or holds a control character (a newline cannot be quoted).
    """
    if not name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ConfigError(f"{name!r} cannot be used as a Spark SQL identifier or path", key="--tables")
    return "`" + name.replace("`", "``") + "`"


def sql_string(value: str) -> str:
    """`value` as a Spark SQL string literal: single-quoted, backslashes and quotes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _unquote(part: str) -> str:
    return part[1:-1].replace("``", "`") if part.startswith("`") else part


@dataclass(frozen=True)
class TableLocation:
    """A folder holding one Delta table per subfolder, or a metastore `catalog.schema`.

    `root` is the folder, or the schema as a SQL identifier (each part backticked when it needs it), so
    `f"{root}.{table}"` names a table in any statement.
    """

    root: str
    is_metastore: bool

    @classmethod
    def parse(cls, value: str) -> TableLocation:
        """`catalog.schema` (plain or backtick-quoted parts) or a path that is clearly one: absolute, `./` or
        `../`, or a URI (`abfss://...`, `dbfs:/...`).

        Raises:
            ConfigError: the value is empty, or is neither (names the value and says what was expected).
        """
        text = value.strip()
        if not text:
            raise ConfigError("empty tables location", key="--tables")
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise ConfigError(f"--tables {text!r} holds a control character", key="--tables")
        named = _METASTORE.match(text)
        if named:
            parts = [_unquote(p) for p in named.groups()]
            return cls(".".join(p if re.fullmatch(_IDENT, p) else quote_identifier(p) for p in parts), True)
        if text.startswith(("/", "./", "../")) or _URI.match(text):
            return cls(text.rstrip("/") or "/", False)
        raise ConfigError(
            f"--tables {text!r} is neither a catalog.schema (letters, digits and _; quote other names in "
            "backticks, e.g. `main`.`ctc-prod`) nor a path (absolute, ./relative or a URI such as abfss://...)",
            key="--tables",
        )

    def name(self, table: str) -> str:
        """An identifier for `spark.table`/`spark.sql`: `cat`.`schema`.`table` or delta.`/path/table`."""
        if self.is_metastore:
            named = _METASTORE.match(self.root)
            parts = [_unquote(p) for p in named.groups()] if named else [self.root]
            return ".".join(quote_identifier(p) for p in (*parts, table))
        return f"delta.{quote_identifier(self.path(table))}"

    def path(self, table: str) -> str:
        """The table's folder (path locations only).

        Raises:
            ConfigError: this is a metastore location.
        """
        if self.is_metastore:
            raise ConfigError(f"{self.root} is a metastore schema, not a folder", key="--tables")
        return f"{self.root.rstrip('/')}/{table}"

    def __str__(self) -> str:
        return self.root


def table_exists(spark: SparkSession, location: TableLocation, table: str) -> bool:
    """True when the Delta table exists at the location."""
    if location.is_metastore:
        return bool(spark.catalog.tableExists(".".join((location.root, table))))
    if is_connect(spark):
        return _is_delta_path(spark, location.path(table))
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, location.path(table)))


def _is_delta_path(spark: SparkSession, path: str) -> bool:
    from pyspark.errors import AnalysisException

    try:
        spark.sql(f"DESCRIBE DETAIL delta.{quote_identifier(path)}").collect()
    except AnalysisException:
        return False
    return True


def ensure_table(
    spark: SparkSession,
    location: TableLocation,
    table: str,
    schema: StructType,
    *,
    cluster_by: Sequence[str] = (),
    properties: Mapping[str, str] | None = None,
) -> bool:
    """Create the Delta table with `schema`, its clustering and properties unless it exists (idempotent); True
    when it did not exist. A table that exists without them (created by an earlier version) is upgraded in
    place (`io/layout.py`): its properties set, its clustering declared, no data file rewritten.

    Two callers racing to create the same table may both get True: both found it missing, and it is empty.
    """
    from ctc_spark.io.layout import TABLE_PROPERTIES, create_sql, upgrade_table

    props = TABLE_PROPERTIES if properties is None else properties
    if not _missing(spark, location, table):
        upgrade_table(spark, location, table, cluster_by=cluster_by, properties=props)
        return False
    statement = create_sql(location.name(table), schema, cluster_by=cluster_by, properties=props)
    retry_conflicts(lambda: spark.sql(statement), f"create {table}")
    return True


def create_table_with_rows(spark: SparkSession, location: TableLocation, table: str, rows: DataFrame) -> bool:
    """Create the Delta table holding `rows` unless it exists; True only for the call that created it.

    Delta commits a table's version 0 once: of callers racing to create it, exactly one gets True, and the
    others (like any caller that finds the table there) get False with nothing written.
    """
    if not _missing(spark, location, table):
        return False
    try:
        _save(rows.write.format("delta").mode("error"), location, table)  # "errorifexists": not in Connect
    except Exception:
        if table_exists(spark, location, table):
            return False  # another writer committed version 0 first
        raise
    return True


def _missing(spark: SparkSession, location: TableLocation, table: str) -> bool:
    """True when the table does not exist yet; its metastore schema is then created, ready for the table."""
    if table_exists(spark, location, table):
        return False
    if location.is_metastore:
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {location.root}")
    return True


def read_table(spark: SparkSession, location: TableLocation, table: str) -> DataFrame:
    """The table as a DataFrame."""
    return spark.table(location.name(table))


def merge_rows(
    spark: SparkSession,
    location: TableLocation,
    table: str,
    rows: DataFrame,
    keys: Sequence[str],
    *,
    update_condition: str | None = None,
    null_safe: bool = True,
    update_columns: Sequence[str] | None = None,
    update_set: Mapping[str, str] | None = None,
    prune: Mapping[str, Any] | None = None,
    within: Mapping[str, Sequence[Any]] | None = None,
) -> None:
    """MERGE `rows` into the table on `keys`: update matches (where `update_condition` holds), insert the rest.

    Keys compare null-safe (`<=>`) unless `null_safe` is false, when a null key never matches (always
    inserted). A match updates every column, or only `update_columns`; `update_set` maps columns to SQL
    expressions over `t` (the stored row) and `s` (ours) instead. `prune` maps target columns to the one value
    every source row has (say `{"project_name": p, "deployment_name": d}`): they join the condition as
    literals, so the MERGE reads only the files that can hold them instead of the whole table; `within` maps
    target columns to the values the matches can have (say `{"doc_id": ids}`: an `IN` list that file
    statistics can skip on). The source is coalesced to one partition. Concurrent-commit conflicts are retried a
    bounded number of times.
    """
    assignments = _assignments(update_columns, update_set)
    rows = rows.coalesce(1)
    on = merge_condition(keys, null_safe=null_safe, prune=prune, within=within)
    if is_connect(spark):
        retry_conflicts(
            lambda: _merge_sql(spark, location, table, rows, on, update_condition, assignments),
            f"merge into {table}",
        )
        return
    from delta.tables import DeltaTable

    def _merge() -> None:
        target = (
            DeltaTable.forName(spark, ".".join((location.root, table)))
            if location.is_metastore
            else DeltaTable.forPath(spark, location.path(table))
        )
        merge = target.alias("t").merge(rows.alias("s"), on)
        if assignments is None:
            merge = merge.whenMatchedUpdateAll(condition=update_condition)
        else:
            merge = merge.whenMatchedUpdate(condition=update_condition, set=dict[str, Any](assignments))
        merge.whenNotMatchedInsertAll().execute()

    retry_conflicts(_merge, f"merge into {table}")


def delete_rows(spark: SparkSession, location: TableLocation, table: str, condition: str) -> int:
    """DELETE the rows matching the SQL `condition` (plain SQL: classic and Connect); returns how many.

    Conflicts are retried. Values in `condition` must be quoted (`sql_string`).
    """
    return _counted(spark, f"DELETE FROM {location.name(table)} WHERE {condition}", f"delete from {table}")


def update_rows(spark: SparkSession, location: TableLocation, table: str, assignments: str, condition: str) -> int:
    """UPDATE the rows matching `condition` with `assignments` (SQL `SET` clauses); returns how many it changed.

    An UPDATE never inserts: a row that is gone stays gone. Conflicts are retried.
    """
    return _counted(spark, f"UPDATE {location.name(table)} SET {assignments} WHERE {condition}", f"update {table}")


def _counted(spark: SparkSession, statement: str, what: str) -> int:
    """Run a Delta DML statement (eager, classic and Connect) and return its `num_affected_rows`."""
    found: list[int] = []

    def run() -> None:
        rows = spark.sql(statement).collect()
        found.append(int(rows[0][0]) if rows and rows[0][0] is not None else 0)

    retry_conflicts(run, what)
    return found[-1]


def _merge_sql(
    spark: SparkSession,
    location: TableLocation,
    table: str,
    rows: DataFrame,
    on: str,
    update_condition: str | None,
    assignments: Mapping[str, str] | None,
) -> None:
    """The same MERGE as SQL `MERGE INTO` from a uniquely named temp view: Spark Connect has no `DeltaTable` API."""
    view = f"ctc_merge_{uuid.uuid4().hex}"
    rows.createOrReplaceTempView(view)
    when = f" AND ({update_condition})" if update_condition else ""
    if assignments is None:
        update = "UPDATE SET *"
    else:
        update = "UPDATE SET " + ", ".join(f"t.{quote_identifier(c)} = {e}" for c, e in assignments.items())
    try:
        spark.sql(
            f"MERGE INTO {location.name(table)} t USING `{view}` s ON {on} "
            f"WHEN MATCHED{when} THEN {update} WHEN NOT MATCHED THEN INSERT *"
        )
    finally:
        spark.catalog.dropTempView(view)


def _assignments(columns: Sequence[str] | None, expressions: Mapping[str, str] | None) -> dict[str, str] | None:
    """The SET of a MERGE's update: `columns` from the source row, then `expressions`; None = every column."""
    if columns is None and expressions is None:
        return None
    return {c: f"s.{quote_identifier(c)}" for c in columns or ()} | dict(expressions or {})


def merge_condition(
    keys: Sequence[str],
    *,
    null_safe: bool = True,
    prune: Mapping[str, Any] | None = None,
    within: Mapping[str, Sequence[Any]] | None = None,
) -> str:
    """The MERGE's `ON`: the keys (`t` the target, `s` the source), then the pruning literals on the target.

    Raises:
        ValueError: a `within` column with no value (an empty `IN` list matches nothing).
    """
    op = "<=>" if null_safe else "="
    on = [f"t.{quote_identifier(k)} {op} s.{quote_identifier(k)}" for k in keys]
    on += [f"t.{quote_identifier(c)} = {sql_literal(v)}" for c, v in (prune or {}).items()]
    for c, values in (within or {}).items():
        if not values:
            raise ValueError(f"no value for {c!r} to be within")
        on.append(f"t.{quote_identifier(c)} IN ({', '.join(sql_literal(v) for v in values)})")
    return " AND ".join(on)


def sql_literal(value: Any) -> str:
    """A Python value as a Spark SQL literal: strings quoted and escaped, datetimes as TIMESTAMP.

    Raises:
        TypeError: a value of another type (names it).
    """
    from datetime import datetime

    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, str):
        return sql_string(value)
    raise TypeError(f"no SQL literal for {type(value).__name__} {value!r}")


def append_rows(spark: SparkSession, location: TableLocation, table: str, rows: DataFrame) -> None:
    """Append `rows` to the table as one file: a blind append, which never conflicts with other writers."""
    _save(rows.coalesce(1).write.format("delta").mode("append"), location, table)


def replace_rows(spark: SparkSession, location: TableLocation, table: str, rows: DataFrame, condition: str) -> None:
    """Replace the rows matching the SQL `condition` with `rows` (each of which must match it), in one commit.

    A Delta `replaceWhere` overwrite: the matching rows are deleted and `rows` appended as one file, cheaper than
    a MERGE's two joins for a row we know by its key. Conflicts are retried. Values in `condition` must be quoted
    (`sql_string`).
    """
    writer = rows.coalesce(1).write.format("delta").mode("overwrite").option("replaceWhere", condition)
    retry_conflicts(lambda: _save(writer, location, table), f"replace rows of {table}")


def _save(writer: DataFrameWriter, location: TableLocation, table: str) -> None:
    if location.is_metastore:
        writer.saveAsTable(".".join((location.root, table)))
    else:
        writer.save(location.path(table))


def conflict_backoff(attempt: int, *, base: float = _BACKOFF_SECONDS, cap: float = _BACKOFF_CAP_SECONDS) -> float:
    """Seconds to wait before retry `attempt` (1-based): exponential, capped, full jitter."""
    return random.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))


_CONFLICT_NAMES = (
    "ConcurrentAppendException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentDeleteReadException",
    "ConcurrentTransactionException",
    "ConcurrentWriteException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT_",  # the error classes Spark Connect reports them under
    "DELTA_METADATA_CHANGED",
    "DELTA_PROTOCOL_CHANGED",
)


def is_conflict(exc: BaseException) -> bool:
    """True for Delta's concurrent-commit errors: converted by pyspark, left a Py4JJavaError, or from Spark Connect."""
    return bool(_conflict_name(exc))


def _conflict_name(exc: BaseException) -> str:
    if type(exc).__name__ in _CONFLICT_NAMES:
        return type(exc).__name__
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else _spark_error_text(exc)
    return next((name for name in _CONFLICT_NAMES if name in text), "")


def _spark_error_text(exc: BaseException) -> str:
    """A Spark error's condition and message (how Spark Connect reports Delta's conflicts); "" for other errors."""
    try:
        from pyspark.errors import PySparkException
    except ImportError:
        return ""
    if not isinstance(exc, PySparkException):
        return ""
    condition = ""
    with contextlib.suppress(Exception):  # an error raised without a condition
        condition = exc.getCondition() or ""
    return f"{condition} {str(exc)[:2000]}"


def retry_conflicts(action: Callable[[], object], what: str) -> None:
    """Run an idempotent write, retrying Delta's concurrent-commit conflicts with backoff.

    The one place Delta's conflict exceptions become ours.

    Raises:
        LedgerError: the write still conflicted after every attempt.
    """
    for attempt in range(1, _MERGE_ATTEMPTS + 1):
        try:
            action()
            return
        except Exception as exc:
            name = _conflict_name(exc)
            if not name:
                raise
            if attempt == _MERGE_ATTEMPTS:
                raise LedgerError(
                    f"{what}: another writer kept committing to the same Delta table "
                    f"({name} {_MERGE_ATTEMPTS} times); re-run with the same arguments to resume"
                ) from exc
            log.info("concurrent Delta commit during %s (attempt %d): %s; retrying", what, attempt, name)
            time.sleep(conflict_backoff(attempt))
