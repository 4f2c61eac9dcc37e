"""The Spark side of a cost preview: count a run's planned actions (requests, documents, text records)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ctc_spark.engine.planning.estimate import RECORD_CHARS, Plan

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["billed_records", "plan_from_actions"]


def billed_records(text: Column | str) -> Column:
    """The text records one document's `text` is billed, as a Column (`estimate.text_records` in Spark)."""
    from pyspark.sql import functions as F

    return F.greatest(F.lit(1), F.ceil(F.length(text) / RECORD_CHARS)).cast("long")


def plan_from_actions(
    actions: DataFrame,
    *,
    input_docs: int,
    skipped_docs: int,
    invalid_docs: int,
    calls_per_minute: int,
    burst_calls: int = 0,
) -> Plan:
    """The plan of the streaming stage's `actions` (one row per batch: `submit` a new one, or `poll` an open job).

    One Spark job. Text records are counted per document of the new requests only: an open job was billed
    when an earlier run submitted it.
    """
    from pyspark.sql import functions as F

    records = F.aggregate(F.transform("texts", billed_records), F.lit(0).cast("long"), lambda acc, x: acc + x)
    rows = (
        actions.groupBy("action")
        .agg(
            F.count(F.lit(1)).alias("batches"),
            F.sum(F.size("doc_ids")).alias("docs"),
            F.sum(records).alias("records"),
        )
        .collect()
    )
    counts = {str(r.action): (int(r.batches), int(r.docs or 0), int(r.records or 0)) for r in rows}
    submits, sent, billed = counts.get("submit", (0, 0, 0))
    polls, resumed, _ = counts.get("poll", (0, 0, 0))
    return Plan(
        input_docs=input_docs,
        skipped_docs=skipped_docs,
        invalid_docs=invalid_docs,
        send_docs=sent,
        requests=submits,
        text_records=billed,
        resumed_jobs=polls,
        resumed_docs=resumed,
        calls_per_minute=calls_per_minute,
        burst_calls=burst_calls,
    )
