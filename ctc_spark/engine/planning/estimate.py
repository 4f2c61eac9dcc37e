"""What a run will cost before it is paid: text records, calls and duration from the plan's counts (pure).

The service bills one text record per started 1,000 characters of each document (a 2,500-character
document is 3 records, an empty one is never sent). Ideally each request costs one submit and one poll; a
committed job left open by an earlier run is polled, not submitted (nor billed) again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ctc_spark.errors import BudgetExceededError, ConfigError

__all__ = ["RECORD_CHARS", "Plan", "check_budget", "check_records", "text_records"]

RECORD_CHARS = 1000


def text_records(chars: int) -> int:
    """The text records one document of `chars` characters is billed: per started 1,000 characters, at least 1."""
    return max(1, math.ceil(chars / RECORD_CHARS))


@dataclass(frozen=True)
class Plan:
    """A run's plan in counts; `input_docs == skipped_docs + invalid_docs + send_docs + resumed_docs`."""

    input_docs: int
    skipped_docs: int  # already classified (by this deployment's model, unless `--skip-by text`)
    invalid_docs: int  # null, empty or oversized: error rows, never sent
    send_docs: int  # documents in new requests
    requests: int  # new requests: one submit each
    text_records: int  # billed by the new requests
    resumed_jobs: int = 0  # committed open jobs of an earlier run: polled, already paid
    resumed_docs: int = 0
    calls_per_minute: int = 0  # the configured quota, summed over resources
    burst_calls: int = 0  # the resources' configured bursts, summed: calls made before the pace applies

    @property
    def submit_calls(self) -> int:
        return self.requests

    @property
    def poll_calls(self) -> int:
        """Ideal: one poll per request and per resumed job."""
        return self.requests + self.resumed_jobs

    @property
    def calls(self) -> int:
        return self.submit_calls + self.poll_calls

    @property
    def estimated_seconds(self) -> float:
        """The calls past the burst at the configured quota: the quota-bound part of the run, without its fixed
        cost."""
        paced = max(0, self.calls - self.burst_calls)
        return paced * 60.0 / self.calls_per_minute if self.calls_per_minute > 0 else 0.0

    def describe(self) -> str:
        """Two lines for people: what is sent and skipped, and what it costs."""
        resumed = f", {self.resumed_docs} in {self.resumed_jobs} open jobs to poll" if self.resumed_jobs else ""
        return (
            f"plan: {self.input_docs} documents: {self.send_docs} to send, {self.skipped_docs} to skip, "
            f"{self.invalid_docs} invalid{resumed}\n"
            f"cost: {self.requests} requests, {self.text_records} text records billed, {self.calls} calls "
            f"({self.submit_calls} submits + {self.poll_calls} polls), about {_duration(self.estimated_seconds)} "
            f"at {self.calls_per_minute} calls/min"
        )


def check_budget(plan: Plan, max_text_records: int | None) -> None:
    """Refuse a plan that bills more text records than `max_text_records` (None: no cap).

    Raises:
        ConfigError: the cap is negative.
        BudgetExceededError: the plan is over the cap; names both numbers.
    """
    paid = f" ({plan.resumed_jobs} open jobs already paid are not counted)" if plan.resumed_jobs else ""
    _check_cap(plan.text_records, f"{plan.send_docs} documents in {plan.requests} requests{paid}", max_text_records)


def check_records(records: int, docs: int, max_text_records: int | None) -> None:
    """Refuse `docs` documents that bill `records` text records over `max_text_records` (None: no cap), before
    they are packed: a run that resumes no open job sends every valid document in a new request.

    Raises:
        ConfigError: the cap is negative.
        BudgetExceededError: the records are over the cap; names both numbers.
    """
    _check_cap(records, f"{docs} documents", max_text_records)


def _check_cap(records: int, what: str, max_text_records: int | None) -> None:
    if max_text_records is None:
        return
    if max_text_records < 0:
        raise ConfigError(f"must be 0 or more, got {max_text_records}", key="--max-text-records")
    if records > max_text_records:
        raise BudgetExceededError(
            f"the plan bills {records} text records ({what}), more than --max-text-records {max_text_records}; "
            "nothing was sent — raise the cap, or classify fewer documents",
            planned=records,
            limit=max_text_records,
        )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
