"""A retrained label's evaluation rows, written three times: shared by the classic and the Spark Connect tiers."""

from __future__ import annotations

from typing import Any

from ctc_spark.io.tables import TableLocation, read_table


def _results(*names: str) -> list[dict[str, Any]]:
    return [
        {"location": n, "customSingleLabelClassificationResult": {"expectedClass": "A", "predictedClass": "A"}}
        for n in names
    ]


def retrain_evaluation_documents(spark: Any, tables: TableLocation) -> set[tuple[str, str]]:
    """Write m2's documents, then m1's twice with `replace` (a.txt dropped, c.txt new); return what is left.

    What is left must be {("m1", "b.txt"), ("m1", "c.txt"), ("m2", "x.txt")}: the second m1 write deletes a.txt,
    and no other label's row.
    """
    from ctc_spark.training import tables as mt

    this = {"project_name": "p", "model_label": "m1"}
    docs = mt.EVALUATION_DOCUMENTS
    mt.write_rows(spark, tables, docs, mt.evaluation_document_rows("p", "m2", _results("x.txt")))
    mt.write_rows(spark, tables, docs, mt.evaluation_document_rows("p", "m1", _results("a.txt", "b.txt")), replace=this)
    mt.write_rows(spark, tables, docs, mt.evaluation_document_rows("p", "m1", _results("b.txt", "c.txt")), replace=this)
    return {(r.model_label, r.location) for r in read_table(spark, tables, docs).collect()}
