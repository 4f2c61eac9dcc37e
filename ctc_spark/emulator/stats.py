"""Counters served at GET /emulator/stats."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["Stats"]

_FIELDS = (
    "throttled",
    "submits",
    "polls",
    "cancels",
    "jobs_submitted",
    "jobs_completed",
    "documents_classified",
    "text_records",
    "authoring_requests",
    "faults_injected",
)


class Stats:
    """Thread-safe counters: requests by 'METHOD route status', plus named totals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[str] = Counter()
            self._totals: Counter[str] = Counter()

    def request(self, method: str, route: str, status: int) -> None:
        with self._lock:
            self._requests[f"{method} {route} {status}"] += 1

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._totals[name] += amount

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {name: self._totals[name] for name in _FIELDS}
            out["requests"] = dict(sorted(self._requests.items()))
            return out
