"""Pure retry decisions: what to retry, how long to wait, and when to give up (attempts and total time)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ctc_spark.errors import CTCError, ThrottledError, TransientServiceError

__all__ = ["RetryPolicy", "retry_delay"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by total seconds."""

    max_attempts: int = 8
    max_seconds: float = 300.0
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]."""
        return float(rand() * min(self.cap_seconds, self.base_seconds * 2.0 ** max(0, attempt - 1)))


def retry_delay(
    error: CTCError, *, attempt: int, elapsed: float, policy: RetryPolicy, rand: Callable[[], float]
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None to give up and raise `error`.

    429 and 503 wait for Retry-After when the service sends one (plus a little jitter, so tasks don't
    return in lockstep); other transient failures back off exponentially; everything else is final. No wait
    runs past the call's time budget (`max_seconds`): a longer hint is cut to what is left of it.
    """
    if not isinstance(error, TransientServiceError) or attempt >= policy.max_attempts:
        return None
    remaining = policy.max_seconds - elapsed
    if remaining <= 0:
        return None
    hinted: float | None = getattr(error, "retry_after", None)
    if hinted is not None and math.isfinite(hinted) and (isinstance(error, ThrottledError) or error.status == 503):
        wait = max(0.0, hinted) + rand() * min(1.0, 0.1 * max(0.0, hinted) + 0.1)
    else:
        wait = policy.backoff(attempt, rand)
    return min(wait, remaining)
