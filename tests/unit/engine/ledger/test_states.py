"""A batch's job states: what is retried, and what is refused: pure."""

from __future__ import annotations

import pytest

from ctc_spark.engine.ledger.states import MAX_ATTEMPTS, should_retry


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
