"""The retry rule: which errors wait, how long, and never past the call's time budget."""

from __future__ import annotations

import pytest
from service_fakes import _client, _error

from ctc_spark.errors import InvalidRequestError, ThrottledError, TransientServiceError
from ctc_spark.service import RetryPolicy
from ctc_spark.service.retry import retry_delay


def test_retry_delay_is_pure_and_bounded() -> None:
    policy = RetryPolicy(max_attempts=3, max_seconds=10, base_seconds=1, cap_seconds=4)
    err = TransientServiceError("x", status=500)
    assert [retry_delay(err, attempt=n, elapsed=0, policy=policy, rand=lambda: 1.0) for n in (1, 2, 3)] == [1, 2, None]
    assert (
        retry_delay(InvalidRequestError("x", status=400), attempt=1, elapsed=0, policy=policy, rand=lambda: 1.0) is None
    )


def test_retries_stop_when_the_time_budget_is_spent() -> None:
    calls = []
    client, waits = _client(lambda r: calls.append(r) or _error(429, "429", headers={"Retry-After": "40"}))
    with pytest.raises(ThrottledError) as info:
        client.get_job("job-1")
    # 40 s fits in 60 s; the second wait is cut to what is left of the budget, then the call gives up.
    assert len(calls) == 3 and info.value.retry_after == 40.0 and sum(waits) == 60.0
