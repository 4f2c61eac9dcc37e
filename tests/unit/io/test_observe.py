"""Observed metrics read back without hanging: an action that never reports them costs a bounded wait, and the
caller counts instead."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from ctc_spark.io.observe import Observed


class _Observation:
    """Classic PySpark's `Observation` as `Observed` uses it: `get` blocks until the metrics arrive."""

    def __init__(self, metrics: dict[str, Any] | None) -> None:
        self._metrics = metrics
        self.released = threading.Event()

    @property
    def get(self) -> dict[str, Any]:
        if self._metrics is None:
            self.released.wait()  # never reported: blocks like the JVM's `get`
            return {}
        return self._metrics


def _frame() -> Any:
    return SimpleNamespace(sparkSession=object())  # a classic session, as far as `is_connect` can tell


def test_reported_metrics_are_returned() -> None:
    observed = Observed(_frame(), _Observation({"n": 3, "bad": 1}))
    assert observed.metrics() == {"n": 3, "bad": 1}


def test_metrics_never_reported_give_none_after_a_bounded_wait() -> None:
    observation = _Observation(None)
    try:
        assert Observed(_frame(), observation).metrics(wait_seconds=0.05) is None
    finally:
        observation.released.set()


def test_an_empty_report_is_no_report() -> None:
    assert Observed(_frame(), _Observation({})).metrics() is None
