"""The task tier's virtual clock: scheduler, runner and throttle tests wait on it, never on the wall clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any

import pytest


class FakeClock:
    """Virtual time: it stands still while any task of the loop can run, then jumps to the next timer.

    A task counts as waiting when the future it awaits is not done; three such rounds in a row (so that plain
    callbacks, such as a task's done callback, have run too) mean the loop is idle. No real sleep is made.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._ticker: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        if self._ticker is None or self._ticker.done() or self._ticker.get_loop() is not loop:
            self._ticker = loop.create_task(self._tick())
        timer: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._timers, (self.t + max(0.0, seconds), next(self._seq), timer))
        await timer

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        if event.is_set():
            return True
        waiter, timer = asyncio.ensure_future(event.wait()), asyncio.ensure_future(self.sleep(timeout))
        try:
            await asyncio.wait({waiter, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            timer.cancel()
        return event.is_set()

    async def _tick(self) -> None:
        me, idle = asyncio.current_task(), 0
        while True:
            await asyncio.sleep(0)
            idle = idle + 1 if _all_waiting(me) else 0
            while self._timers and self._timers[0][2].done():  # a cancelled sleep
                heapq.heappop(self._timers)
            if idle >= 3 and self._timers:
                due, _, timer = heapq.heappop(self._timers)
                self.t, idle = max(self.t, due), 0
                timer.set_result(None)


def _all_waiting(me: asyncio.Task[Any] | None) -> bool:
    for task in asyncio.all_tasks():
        waiter = getattr(task, "_fut_waiter", None)
        if task is not me and not task.done() and (waiter is None or waiter.done()):
            return False
    return True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
