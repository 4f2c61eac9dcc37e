"""Quota shares, the token bucket and AIMD, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from ctc_spark.engine.task.throttle import AdaptiveLimiter, TokenBucket, burst_share, task_share


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


def _acquire_now(limiter: AdaptiveLimiter) -> None:
    """Run `acquire` to its end on a sleep that only records: the limiter's wait is what it asked for."""
    coro = limiter.acquire()
    try:
        coro.send(None)
    except StopIteration:
        return
    raise AssertionError("acquire suspended on a sleep that never suspends")


def _spend(limiters: list[AdaptiveLimiter], clock: FakeClock, waits: list[float], calls: int, quota) -> list[float]:
    """Each limiter makes `calls` calls as soon as it allows them, against the emulator's own `quota`; returns
    the virtual times of the calls the quota refused (a 429 each)."""
    pending = [(0.0, i, 0) for i in range(len(limiters))]
    refused = []
    while pending:
        pending.sort()
        now, i, made = pending.pop(0)
        clock.now = now
        waits.clear()
        _acquire_now(limiters[i])
        at = now + sum(waits)
        clock.now = at
        if quota.take("key", "runtime") is not None:
            refused.append(at)
        if made + 1 < calls:
            pending.append((at, i, made + 1))
    return refused


@pytest.mark.parametrize("tasks", [1, 2, 3])
def test_tasks_spend_the_resource_burst_together_and_never_more(tasks: int) -> None:
    from ctc_spark.emulator.quota import Quota

    cpm, calls = 1000, 800 // tasks
    clock, waits = FakeClock(), []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    def limiters(burst_calls: int) -> list[AdaptiveLimiter]:
        clock.now = 0.0  # a new run: its limiters and the resource's bucket start at 0
        share = task_share(cpm, tasks)
        burst = burst_share(burst_calls, cpm, share)
        return [AdaptiveLimiter(share, burst_calls=burst, clock=clock, sleep=record) for _ in range(tasks)]

    def server() -> Quota:
        return Quota({"runtime": cpm}, burst_seconds=10.0, clock=clock)  # the emulator's default: 166 calls

    assert _spend(limiters(0), clock, waits, calls, server()) == []
    paced = clock.now
    assert _spend(limiters(166), clock, waits, calls, server()) == []
    # The burst saves what it holds at the tasks' pace: 161 calls at 97% of 1000/min, nearly 10 s.
    assert paced - clock.now == pytest.approx(166 * 0.97 / (cpm * 0.97 / 60), abs=0.5)
    # Overstated, the burst is spent all the same, and the resource refuses what it never had.
    assert len(_spend(limiters(400), clock, waits, calls, server())) >= 100


def test_burst_share_is_the_task_share_of_the_pace() -> None:
    assert burst_share(166, 1000, task_share(1000, 2)) == pytest.approx(166 * 0.97 / 2)
    # The driver's one task paces at the whole quota; it keeps 3% of the burst for the network's jitter.
    assert burst_share(166, 1000, 1000 / 60) == pytest.approx(166 * 0.97)
    assert burst_share(166, 1000, 1e6) == pytest.approx(166 * 0.97)
    assert burst_share(0, 1000, 10.0) == 0.0


def test_a_limiter_without_a_burst_starts_nearly_empty() -> None:
    clock = FakeClock()
    bucket = AdaptiveLimiter(10.0, clock=clock, sleep=clock.sleep)
    asyncio.run(bucket.acquire())
    asyncio.run(bucket.acquire())
    assert clock.now == pytest.approx(0.1)
