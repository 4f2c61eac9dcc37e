"""Spark-side planning: read (id, text), refuse duplicate ids, skip what is done, pre-validate, pack into batches."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctc_spark.config import ResourceSettings
from ctc_spark.engine.planning.packing import (
    ERR_DOCUMENT_TOO_LARGE,
    ERR_EMPTY_DOCUMENT,
    ERR_INVALID_ENCODING,
    ERR_NULL_DOCUMENT,
    PlannedDoc,
    pack,
)
from ctc_spark.engine.planning.preview import billed_records
from ctc_spark.errors import InputError

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import Column, DataFrame

__all__ = [
    "BATCH_SCHEMA",
    "InputIds",
    "assign_resource",
    "check_unique_ids",
    "connect_partitions",
    "normalise_input",
    "pack_frame",
    "packed_batches",
    "with_prevalidation",
]

_PACK_CHUNK = 200  # packed batches per DataFrame a packing worker yields (about 5,000 documents)
_CONNECT_PARTITION_DOCS = 1000
_CONNECT_MAX_PARTITIONS = 10_000
BATCH_SCHEMA = (
    "batch_id STRING, doc_ids ARRAY<STRING>, texts ARRAY<STRING>, text_sha256s ARRAY<STRING>, "
    "n_chars LONG, resource STRING"
)


def connect_partitions(docs: int) -> int:
    """Partitions to pack `docs` documents into for the driver engine: about 1,000 documents each.

    The Spark Connect client turns each Arrow batch it receives (never more than a partition) into Python rows
    all at once, so the partition size, not the corpus or `spark.sql.shuffle.partitions`, bounds the driver's
    memory: two partitions of 100,000 documents held ~130 MB of rows and Arrow bytes at a time.
    """
    return max(1, min(_CONNECT_MAX_PARTITIONS, -(-docs // _CONNECT_PARTITION_DOCS)))


def normalise_input(df: DataFrame, *, id_col: str, text_col: str, source: str = "input") -> DataFrame:
    """(doc_id string, text string, text_sha256) from any DataFrame with an id and a text column.

    Raises:
        InputError: a column is missing; names the column, the source and the columns that exist.
    """
    from pyspark.sql import functions as F

    for col in (id_col, text_col):
        if col not in df.columns:
            raise InputError(
                f"column '{col}' not found in {source}; columns are {df.columns}", source=source, column=col
            )
    out = df.select(F.col(id_col).cast("string").alias("doc_id"), F.col(text_col).cast("string").alias("text"))
    return out.withColumn("text_sha256", F.sha2(F.coalesce(F.col("text"), F.lit("")), 256))


@dataclass(frozen=True)
class InputIds:
    """The input's documents: how many, and the range of their ids (None when there are none)."""

    count: int
    first: str | None = None
    last: str | None = None


def check_unique_ids(docs: DataFrame, *, source: str = "input") -> InputIds:
    """Refuse null or duplicate document ids (results are keyed by id); returns their count and range.

    Raises:
        InputError: names up to five offending ids and how often each occurs.
    """
    from pyspark.sql import functions as F

    # One pass counts the documents and the bad ids, and finds the ids' range; a null id groups like any other.
    grouped = docs.groupBy("doc_id").count()
    bad_id = F.col("doc_id").isNull() | (F.col("count") > 1)
    total = grouped.agg(
        F.sum("count").alias("n"), F.count(F.when(bad_id, 1)).alias("bad"), F.min("doc_id"), F.max("doc_id")
    ).first()
    if total is None or not total.bad:
        return InputIds(int(total[0] or 0), total[2], total[3]) if total else InputIds(0)
    bad = grouped.filter(bad_id).orderBy("doc_id").limit(6).collect()
    if any(r.doc_id is None for r in bad):
        raise InputError(f"{source} has documents with a null id", source=source, column="doc_id")
    listed = ", ".join(f"{r.doc_id!r} x{r['count']}" for r in bad[:5])
    raise InputError(
        f"{source} has duplicate document ids ({listed}); ids must be unique — deduplicate first",
        source=source,
        column="doc_id",
    )


def with_prevalidation(docs: DataFrame, max_chars: int) -> DataFrame:
    """`docs` plus (error_code, error_message), set for documents that must not be sent: null, not UTF-8, empty,
    oversized.

    Text that is not UTF-8 (a Latin-1 `.txt` file, a binary column cast to string) is caught here, in Spark,
    before any Python worker turns it into a `str` (pyarrow fails the whole task on it).
    """
    from pyspark.sql import functions as F

    length = F.length("text")
    invalid = ~F.expr("is_valid_utf8(text)")
    code = (
        F.when(F.col("text").isNull(), F.lit(ERR_NULL_DOCUMENT))
        .when(invalid, F.lit(ERR_INVALID_ENCODING))
        .when(F.length(F.trim("text")) == 0, F.lit(ERR_EMPTY_DOCUMENT))
        .when(length > max_chars, F.lit(ERR_DOCUMENT_TOO_LARGE))
    )
    message = (
        F.when(F.col("text").isNull(), F.lit("text is null"))
        .when(
            invalid,
            F.format_string("text (%d bytes) is not valid UTF-8; re-encode it as UTF-8", F.octet_length("text")),
        )
        .when(F.length(F.trim("text")) == 0, F.lit("text is empty or only whitespace"))
        .when(length > max_chars, F.format_string(f"text has %d characters; the limit is {max_chars}", length))
    )
    return docs.withColumn("error_code", code).withColumn("error_message", message)


def plan_counts() -> list[Column]:
    """The plan's counts as aggregate Columns: `n` documents, `bad` of them invalid (an `error_code`), `known`
    of them with a `results` row already (`has_row`), and `records`: the text records the valid ones bill."""
    from pyspark.sql import functions as F

    valid_records = F.when(F.col("error_code").isNull(), billed_records("text")).otherwise(F.lit(0).cast("long"))
    return [
        F.count(F.lit(1)).alias("n"),
        F.count("error_code").alias("bad"),
        F.count(F.when(F.col("has_row"), 1)).alias("known"),
        F.sum(valid_records).alias("records"),
    ]


def assign_resource(batch_id: str, resources: Sequence[ResourceSettings]) -> str:
    """Spread batches over resources in proportion to their quotas, deterministically by batch id."""
    if len(resources) == 1:
        return resources[0].name
    total = sum(r.calls_per_minute for r in resources)
    point = int(hashlib.sha256(batch_id.encode()).hexdigest()[:8], 16) % total
    for r in resources:
        if point < r.calls_per_minute:
            return r.name
        point -= r.calls_per_minute
    return resources[-1].name


def packed_batches(
    docs: Iterable[tuple[str, str, str]],
    *,
    max_docs: int,
    max_chars: int,
    scope: str,
    resources: Sequence[ResourceSettings],
) -> Iterator[tuple[str, list[str], list[str], list[str], int, str]]:
    """Pack (doc_id, text, text_sha256) in the given order into batches, streamed: one
    (batch_id, doc_ids, texts, text_sha256s, n_chars, resource) tuple per batch (`BATCH_SCHEMA`)."""
    planned = (PlannedDoc(doc_id, text, sha256) for doc_id, text, sha256 in docs)
    for b in pack(planned, max_docs=max_docs, max_chars=max_chars, scope=scope):
        yield (
            b.batch_id,
            [d.id for d in b.docs],
            [d.text for d in b.docs],
            [d.sha256 for d in b.docs],
            b.chars,
            assign_resource(b.batch_id, resources),
        )


def pack_frame(
    frames: Iterator[pd.DataFrame],
    *,
    max_docs: int,
    max_chars: int,
    scope: str,
    resources: Sequence[ResourceSettings],
) -> Iterator[pd.DataFrame]:
    """mapInPandas body: pack one partition's (sorted) documents into batches, yielded a chunk at a time.

    Documents stream in and batches stream out in chunks of `_PACK_CHUNK`, so a worker holds one input Arrow
    batch and one chunk of packed batches whatever the partition's size.
    """
    import pandas as pd

    docs = ((r.doc_id, r.text, r.text_sha256) for f in frames for r in f.itertuples(index=False))
    batches = packed_batches(docs, max_docs=max_docs, max_chars=max_chars, scope=scope, resources=resources)
    columns = ["batch_id", "doc_ids", "texts", "text_sha256s", "n_chars", "resource"]
    while chunk := list(itertools.islice(batches, _PACK_CHUNK)):
        yield pd.DataFrame(chunk, columns=columns)
