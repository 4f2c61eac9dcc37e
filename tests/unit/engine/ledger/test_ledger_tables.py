"""The ledger's Delta schemas hold the columns SQL users and the engine rely on, and no secret."""

from __future__ import annotations

from ctc_spark.engine.ledger.tables import JOBS_SCHEMA, RESULTS_SCHEMA


def test_tables_have_the_documented_key_columns() -> None:
    results = {f.name for f in RESULTS_SCHEMA.fields}
    wanted = {
        "doc_id",
        "category",
        "confidence",
        "classes",
        "error_code",
        "error_message",
        "project_name",
        "deployment_name",
        "kind",
        "api_version",
        "job_id",
        "run_id",
        "text_sha256",
        "classified_at",
    }
    assert wanted <= results
    jobs = {f.name for f in JOBS_SCHEMA.fields}
    assert {
        "run_id",
        "batch_id",
        "doc_ids",
        "job_id",
        "operation_location",
        "resource",
        "submitted_at",
        "expires_at",
        "status",
        "attempts",
        "last_error",
    } <= jobs
    assert not any("key" in name for name in results | jobs)
