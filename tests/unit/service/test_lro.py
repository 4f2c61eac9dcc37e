"""The long-running-operation waiter: a failed operation and a spent deadline."""

from __future__ import annotations

import pytest

from ctc_spark.errors import DeadlineExceededError, JobFailedError
from ctc_spark.service import wait_for_operation


def test_operation_waiter_failures_and_deadline() -> None:
    class Ops:
        def __init__(self, bodies: list[dict[str, object]]) -> None:
            self.bodies = iter(bodies)

        def get_operation(self, location: str) -> tuple[dict[str, object], float | None]:
            return next(self.bodies), None

    failed = Ops([{"status": "failed", "jobId": "j", "errors": [{"code": "Bad", "message": "no docs"}]}])
    with pytest.raises(JobFailedError, match="Bad: no docs"):
        wait_for_operation(failed, "loc", sleep=lambda s: None)
    now = [0.0]
    running = Ops([{"status": "running"}] * 10)
    with pytest.raises(DeadlineExceededError):
        wait_for_operation(
            running,
            "loc",
            deadline_seconds=5,
            poll_interval=2,
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
