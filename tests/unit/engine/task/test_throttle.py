"""Quota shares, the token bucket and AIMD, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from ctc_spark.engine.task.throttle import AdaptiveLimiter, TokenBucket, task_share


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_task_share_splits_the_quota_with_a_margin() -> None:
    assert task_share(1000, 2) == pytest.approx(1000 * 0.97 / 60 / 2)
    assert task_share(6000, 1, safety=1.0) == pytest.approx(100.0)
    with pytest.raises(ValueError):
        task_share(0, 2)


def test_bucket_paces_calls_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, capacity=10.0, clock=clock)
    waits = [bucket.reserve() for _ in range(21)]
    assert waits[0] == 0.0
    assert waits[-1] == pytest.approx(2.0)


def test_limiter_never_exceeds_its_share_over_a_minute() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(5.0, clock=clock, sleep=clock.sleep)

    async def drive() -> int:
        calls = 0
        while clock.now < 60.0:
            await limiter.acquire()
            calls += 1
        return calls

    assert asyncio.run(drive()) <= 5.0 * 60 + 2


def test_throttling_halves_the_rate_pauses_and_recovers() -> None:
    clock = FakeClock()
    limiter = AdaptiveLimiter(10.0, clock=clock, sleep=clock.sleep)
    limiter.on_throttled(3.0)
    assert limiter.rate == pytest.approx(5.0)
    asyncio.run(limiter.acquire())
    assert clock.now >= 3.0
    for _ in range(100):
        limiter.on_success()
    assert limiter.rate == pytest.approx(10.0)
    for _ in range(20):
        limiter.on_throttled(None)
    assert limiter.rate == pytest.approx(0.5)
    assert limiter.throttled == 21
