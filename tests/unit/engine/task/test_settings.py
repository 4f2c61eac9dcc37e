"""A task's settings: the window sizing, the kind check, and that they travel to executors (pickle)."""

from __future__ import annotations

import pickle

import pytest

from ctc_spark.config import BatchSettings, EngineSettings, ResourceSettings, Secret, ServiceSettings
from ctc_spark.engine.task.clock import SystemClock
from ctc_spark.engine.task.settings import TaskSettings, task_settings, window_size

_SERVICE = ServiceSettings(resources=(ResourceSettings("http://x", Secret("s3cr3t-key"), 6000, name="r"),))


def _settings(kind: str = "single") -> TaskSettings:
    return task_settings(
        _SERVICE,
        BatchSettings(language="de"),
        EngineSettings(job_deadline_seconds=60.0),
        project="p",
        deployment="d",
        kind=kind,
        shares=(16.0,),
        max_uncommitted=7,
        concurrency=3,
    )


def test_the_window_holds_four_latencies_of_calls_within_bounds() -> None:
    assert window_size(16.0, 2.0) == 321  # 4 x 16 calls/s x (2 s latency + 3 s commit) + 1
    assert window_size(0.1, 2.0) == 16
    assert window_size(10_000.0, 2.0) == 5000


def test_task_settings_take_the_batch_and_engine_settings_and_size_the_window() -> None:
    settings = _settings()
    assert (settings.language, settings.job_deadline_seconds, settings.max_uncommitted) == ("de", 60.0, 7)
    assert settings.max_in_flight == 321 and settings.concurrency == 3
    assert isinstance(settings.clock, SystemClock) and settings.client_factory is None


def test_an_unknown_kind_is_named() -> None:
    with pytest.raises(ValueError, match="'both'"):
        _settings("both")


def test_task_settings_travel_to_executors_without_their_secret_in_repr() -> None:
    settings = _settings()
    copy = pickle.loads(pickle.dumps(settings))
    assert copy.shares == settings.shares and isinstance(copy.clock, SystemClock)
    assert "s3cr3t" not in repr(copy)
