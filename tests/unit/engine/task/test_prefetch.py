"""The read-ahead a task takes its batches from: never blocking, bounded, and failing with its reader."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ctc_spark.engine.task.prefetch import Prefetcher


def test_prefetcher_never_blocks_and_reports_exhaustion() -> None:
    gate = threading.Event()

    def rows() -> Any:
        yield {"batch_id": "a"}
        gate.wait(5)
        yield {"batch_id": "b"}

    woken: list[int] = []
    source = Prefetcher(rows(), buffer=10).start()
    source.bind(lambda: woken.append(1))
    deadline = time.monotonic() + 5
    got: list[dict[str, Any]] = []
    while not got and time.monotonic() < deadline:
        got, done = source.take_ready(64)
    assert got == [{"batch_id": "a"}] and not done
    started = time.monotonic()
    assert source.take_ready(64) == ([], False)  # the reader is stuck upstream: nothing ready, not exhausted
    assert time.monotonic() - started < 1.0
    gate.set()
    rest: list[dict[str, Any]] = []
    done = False
    while not done and time.monotonic() < deadline:
        chunk, done = source.take_ready(64)
        rest += chunk
    assert rest == [{"batch_id": "b"}] and done and woken
    source.close()


def test_prefetcher_bounds_what_it_reads_ahead_and_raises_the_readers_failure() -> None:
    read: list[int] = []

    def rows() -> Any:
        for i in range(100):
            read.append(i)
            yield {"i": i}
        raise RuntimeError("the Spark job failed")

    source = Prefetcher(rows(), buffer=5).start()
    time.sleep(0.3)
    assert len(read) <= 7, f"read {len(read)} rows ahead with a buffer of 5"
    seen = 0
    with pytest.raises(RuntimeError, match="the Spark job failed"):
        for _ in range(1000):
            chunk, _done = source.take_ready(3)
            seen += len(chunk)
            time.sleep(0.001)
    assert seen == 100
    source.close()


def test_prefetcher_close_stops_a_reader_waiting_on_a_full_queue() -> None:
    source = Prefetcher(iter({"i": i} for i in range(1000)), buffer=2).start()
    time.sleep(0.1)
    source.close()
    assert not source._thread.is_alive()
