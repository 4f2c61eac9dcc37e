"""The task's clock: what the scheduler and its throttle read time and wait through, so tests can replace it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Wall time, a monotonic time and waiting; `SystemClock` is the real one."""

    def now(self) -> float:
        """Seconds since the epoch (job times are recorded in it)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (rates and pauses are measured on it)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        """Wait until `event` is set or `timeout` seconds have passed; whether it is set."""
        ...


class SystemClock:
    """The real clock: `time` and the running event loop. Stateless, so a task's picklable settings can hold it."""

    def __repr__(self) -> str:
        return "SystemClock()"

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        return event.is_set()
