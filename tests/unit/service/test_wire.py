"""Parsing of the service's answers into models."""

from __future__ import annotations

from ctc_spark.service.wire import parse_job


def test_partially_completed_fills_every_expected_document() -> None:
    body = {
        "status": "partiallyCompleted",
        "errors": [{"code": "InternalServerError", "message": "task failed", "target": "#/tasks/items/0"}],
        "tasks": {
            "items": [{"kind": "CustomSingleLabelClassificationLROResults", "taskName": "0", "status": "failed"}]
        },
    }
    job = parse_job(body, expected_ids=["a", "b"])
    assert [(d.id, d.error_code) for d in job.documents] == [("a", "InternalServerError"), ("b", "InternalServerError")]
    minimal = parse_job({"status": "running"})
    assert (minimal.documents, minimal.created, minimal.done) == ((), None, False)
