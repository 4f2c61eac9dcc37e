"""A task's rows for the ledger, built from the service's answers: pure."""

from __future__ import annotations

from ctc_spark.engine.ledger.states import MISSING_RESULT
from ctc_spark.engine.task.batches import BatchState, job_results
from ctc_spark.service.models import AnalyzeJob, ClassScore, DocumentResult


def test_results_map_positional_ids_back_and_never_lose_a_document() -> None:
    job = AnalyzeJob(
        "j1",
        "succeeded",
        documents=(
            DocumentResult("1", (ClassScore("b", 0.4), ClassScore("a", 0.9))),
            DocumentResult("0", ()),  # multi-label: nothing above the threshold is still a result
            DocumentResult("3", (), error_code="InvalidDocument", error_message="Document text is empty."),
        ),
    )
    batch = BatchState("b", "r", ["x", "y", "z", "w"], ["t"] * 4, ["s0", "s1", "s2", "s3"])
    rows = job_results(job, batch)
    by_id = {r["doc_id"]: r for r in rows}
    assert [r["doc_id"] for r in rows] == ["x", "y", "z", "w"]
    assert by_id["y"]["category"] == "a" and by_id["y"]["confidence"] == 0.9 and len(by_id["y"]["classes"] or []) == 2
    assert by_id["x"]["category"] is None and by_id["x"]["error_code"] is None and by_id["x"]["classes"] == []
    assert by_id["z"]["error_code"] == MISSING_RESULT
    assert by_id["w"]["error_code"] == "InvalidDocument" and by_id["w"]["text_sha256"] == "s3"
    assert by_id["w"]["error_message"] == "Document text is empty."
    assert all(r["job_id"] == "j1" for r in rows)
    assert all(set(r) == set(rows[0]) for r in rows)  # every row has exactly the ledger's fields
