"""Seeded, reproducible fault decisions: the same seed and request order give the same faults."""

from __future__ import annotations

import random
import threading

from ctc_spark.emulator.config import FaultProfile

__all__ = ["FaultInjector"]


class FaultInjector:
    """Decides, per runtime request, per submit and per new job, which fault (if any) to inject."""

    def __init__(self, profile: FaultProfile, seed: int) -> None:
        self._lock = threading.Lock()
        self.set(profile, seed)

    def set(self, profile: FaultProfile, seed: int | None = None) -> None:
        with self._lock:
            self.profile = profile
            if seed is not None:
                self._seed = seed
            self._rng = random.Random(self._seed)
            self._requests = 0
            self._burst_left = 0
            self._fail_next = profile.fail_next_jobs
            self._reset_next = profile.reset_next_requests
            self._lose_next = profile.lose_next_submits

    def on_request(self) -> str | None:
        """One of 'reset', 'throttle', '500', '503', 'slow', or None."""
        with self._lock:
            p = self.profile
            self._requests += 1
            if self._reset_next > 0:
                self._reset_next -= 1
                return "reset"
            if p.throttle_burst_every and self._requests % p.throttle_burst_every == 0:
                self._burst_left = p.throttle_burst_length
            if self._burst_left > 0:
                self._burst_left -= 1
                return "throttle"
            draw = self._rng.random()
            for name, rate in (
                ("reset", p.reset_rate),
                ("500", p.error_500_rate),
                ("503", p.error_503_rate),
                ("slow", p.slow_rate),
            ):
                if draw < rate:
                    return name
                draw -= rate
            return None

    def on_submit(self) -> int | None:
        """The status to answer a submit with after its job is created (0: drop the connection), or None."""
        with self._lock:
            if self._lose_next > 0:
                self._lose_next -= 1
                return self.profile.lost_submit_status
            return None

    def on_job(self) -> str | None:
        """'failed', 'partial' or None for a newly submitted job."""
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return "failed"
            draw = self._rng.random()
            if draw < self.profile.failed_job_rate:
                return "failed"
            if draw < self.profile.failed_job_rate + self.profile.partial_job_rate:
                return "partial"
            return None
