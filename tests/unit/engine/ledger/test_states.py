"""Ledger state transitions, the tables' schemas and the streaming stage's task count: pure, no Spark session."""

from __future__ import annotations

import pytest

from ctc_spark.engine.engines import stream_tasks
from ctc_spark.engine.ledger.states import MAX_ATTEMPTS, should_retry
from ctc_spark.engine.ledger.tables import JOBS_SCHEMA, RESULTS_SCHEMA
from ctc_spark.errors import ConfigError


@pytest.mark.parametrize(
    ("status", "attempts", "retry"),
    [
        ("submitted", 1, False),
        ("succeeded", 1, False),
        ("failed", 1, True),
        ("expired", 2, True),
        ("unknown", 1, True),
        ("failed", MAX_ATTEMPTS, False),
        ("unknown", MAX_ATTEMPTS, False),
        ("rejected", 1, False),
        ("fatal", 1, False),
    ],
)
def test_only_passing_failures_are_retried_while_attempts_remain(status: str, attempts: int, retry: bool) -> None:
    assert should_retry(status, attempts) is retry


def test_unknown_status_is_refused_rather_than_dropped() -> None:
    with pytest.raises(ValueError, match="'weird'"):
        should_retry("weird", 1)


def test_streaming_tasks_follow_the_quota_and_always_leave_a_slot_for_commits() -> None:
    assert stream_tasks(2, 1000 / 60) == 1
    assert stream_tasks(2, 6000 / 60) == 1  # two would want both slots; the ledger's Delta commits need one
    assert stream_tasks(8, 6000 / 60) == 2
    assert stream_tasks(64, 100_000 / 60) == 34
    assert stream_tasks(8, 100.0, configured=3) == 3
    with pytest.raises(ConfigError, match="at least 2 task slots"):
        stream_tasks(1, 10.0)
    with pytest.raises(ConfigError, match=r"engine\.tasks"):
        stream_tasks(4, 10.0, configured=4)


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
