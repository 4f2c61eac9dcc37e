"""Per-key quotas as token buckets: runtime calls per minute (submits and polls alike), authoring POST and GET."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

__all__ = ["Quota"]


class Quota:
    """Token buckets keyed by (key, scope); `take` returns None when allowed, else seconds to wait (>= 1)."""

    def __init__(self, limits: dict[str, int | None], *, burst_seconds: float, clock: Callable[[], float]) -> None:
        self._limits = dict(limits)
        self._burst = burst_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def take(self, key: str, scope: str) -> int | None:
        per_minute = self._limits.get(scope)
        if not per_minute:
            return None
        rate = per_minute / 60.0
        capacity = max(1.0, rate * self._burst)
        now = self._clock()
        with self._lock:
            tokens, stamp = self._buckets.get((key, scope), (capacity, now))
            tokens = min(capacity, tokens + (now - stamp) * rate)
            if tokens >= 1.0:
                self._buckets[(key, scope)] = (tokens - 1.0, now)
                return None
            self._buckets[(key, scope)] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))
