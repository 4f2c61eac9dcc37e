"""Cluster-wide throttling: split each resource's quota among concurrent tasks; token bucket with AIMD on 429.

The quota (calls per minute, submits and polls alike) belongs to the resource, not to a task. The driver
knows how many tasks run at once, so each task gets `quota x safety / tasks` and runs its own bucket at
that rate. A 429 halves the task's rate and pauses it for Retry-After; successes add back a little at a
time (additive increase, multiplicative decrease), never above the task's share.

A resource may take a burst of calls before its pace applies (its own token bucket's depth: the emulator's is
ten seconds of its quota). `burst_calls` says how deep it is, and each task starts with the same fraction of
it as of the pace, so together the tasks never hold more tokens than the resource. Never told, a task starts
with one token and paces from its first call.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

__all__ = ["AdaptiveLimiter", "TokenBucket", "burst_share", "task_share"]

SAFETY = 0.97


def task_share(calls_per_minute: int, concurrent_tasks: int, *, safety: float = SAFETY) -> float:
    """Calls per second one task may make so that `concurrent_tasks` together stay under the quota."""
    if calls_per_minute <= 0 or concurrent_tasks <= 0:
        raise ValueError(f"need a positive quota and task count, got {calls_per_minute}, {concurrent_tasks}")
    return calls_per_minute * safety / 60.0 / concurrent_tasks


def burst_share(burst_calls: int, calls_per_minute: int, share: float, *, safety: float = SAFETY) -> float:
    """The part of a resource's burst that a task holding `share` calls per second of its pace may use: the same
    fraction of the burst as of the pace, and never more than `safety` of the burst (the driver's one task
    paces at the whole quota: a burst spent to the last call leaves no room for the network's jitter)."""
    if burst_calls <= 0 or calls_per_minute <= 0:
        return 0.0
    return burst_calls * min(safety, share * 60.0 / calls_per_minute)


class TokenBucket:
    """A token bucket that hands out reservations: `reserve()` says how long to wait for the next call."""

    def __init__(
        self, rate: float, capacity: float, *, tokens: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.capacity = max(1.0, capacity)
        self._clock = clock
        # By default nearly empty, so concurrent tasks don't burst together at start-up.
        self._tokens = min(self.capacity, max(1.0, tokens))
        self._stamp = clock()

    def reserve(self) -> float:
        """Take one token (possibly on credit) and return the seconds to wait before using it."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class AdaptiveLimiter:
    """The engine's RateLimiter: a token bucket at the task's share, with AIMD on 429s.

    It holds a second of its pace, or `burst_calls` (its share of the resource's burst, see `burst_share`) when
    that is more, and starts with those `burst_calls` in hand.
    """

    def __init__(
        self,
        calls_per_second: float,
        *,
        burst_calls: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.target = calls_per_second
        capacity = max(calls_per_second, burst_calls)
        self._bucket = TokenBucket(calls_per_second, capacity, tokens=burst_calls, clock=clock)
        self._clock = clock
        self._sleep = sleep
        self._paused_until = 0.0
        self.throttled = 0

    @property
    def rate(self) -> float:
        return self._bucket.rate

    async def acquire(self) -> None:
        pause = self._paused_until - self._clock()
        if pause > 0:
            await self._sleep(pause)
        wait = self._bucket.reserve()
        if wait > 0:
            await self._sleep(wait)

    def on_throttled(self, retry_after: float | None) -> None:
        self.throttled += 1
        self._bucket.rate = max(self.target * 0.05, self._bucket.rate * 0.5)
        # The client caps Retry-After at service.max_retry_seconds; a value that is not a finite positive number
        # (however it got here) pauses the default second, never forever.
        pause = retry_after if retry_after is not None and 0 < retry_after < math.inf else 1.0
        self._paused_until = max(self._paused_until, self._clock() + pause)

    def on_success(self) -> None:
        if self._bucket.rate < self.target:
            self._bucket.rate = min(self.target, self._bucket.rate + self.target * 0.02)
