"""Aggregates computed by an action that runs anyway: `DataFrame.observe`, read back without hanging.

Counting a DataFrame that was just written costs a second Spark job (and, for a new Delta table, a cold read of
its log). Observed metrics ride on the write itself. Classic PySpark's `Observation.get` blocks until the action
reports them, forever if it never does; Spark Connect's raises when they did not come back. Either way, no
metrics is an answer here (None), and the caller counts instead.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ctc_spark.io.connect import is_connect

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["Observed", "observe"]

# After the action has returned, the metrics arrive through the listener bus within milliseconds.
_WAIT_SECONDS = 5.0


class Observed:
    """Named aggregates attached to a DataFrame; `metrics()` after the action that ran it."""

    def __init__(self, frame: DataFrame, observation: Any) -> None:
        self.frame = frame
        self._observation = observation

    def __repr__(self) -> str:
        return f"Observed({self._observation!r})"

    def metrics(self, *, wait_seconds: float = _WAIT_SECONDS) -> dict[str, Any] | None:
        """The aggregates of the first action run on `frame`; None when the session did not report them."""
        if is_connect(self.frame.sparkSession):
            try:
                return dict(self._observation.get)
            except Exception:  # NO_OBSERVE_BEFORE_GET: the server sent no metrics for the command
                return None
        found: dict[str, Any] = {}

        def _get() -> None:
            found.update(self._observation.get)

        # `get` blocks in the JVM until the metrics arrive: wait for it on a daemon thread, never forever.
        waiter = threading.Thread(target=_get, name="ctc-observe", daemon=True)
        waiter.start()
        waiter.join(wait_seconds)
        return dict(found) if not waiter.is_alive() and found else None


def observe(frame: DataFrame, name: str, metrics: Sequence[Column]) -> Observed:
    """`frame` carrying `metrics` (aggregate Columns, each aliased) under `name`, for the next action."""
    from pyspark.sql import Observation

    observation = Observation(name)
    return Observed(frame.observe(observation, *metrics), observation)
