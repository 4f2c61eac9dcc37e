"""The ledger writer against an in-memory sink: the close hand-over, group commits, one row per document, fences."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from ledger_fakes import MemorySink, job_row, result_row

from ctc_spark.engine.ledger.inprocess import InProcessLink
from ctc_spark.engine.ledger.protocol import COMMIT, EVENTS, LOOKUP
from ctc_spark.engine.ledger.writer import LedgerWriter, WriterTimings, dedupe_results
from ctc_spark.errors import LedgerError

FAST = WriterTimings(commit_seconds=0.0, results_seconds=0.0, status_seconds=0.0)


def test_a_call_that_comes_after_close_is_refused_never_silently_dropped() -> None:
    # The CI race: the results writer stopped on an empty queue, then a late hand-over queued 350 documents that
    # nobody wrote. Whatever the timing, an accepted call is written, and a late one is refused loudly.
    sink = MemorySink()
    writer = LedgerWriter(sink, timings=FAST).start()
    writer.close()
    with pytest.raises(LedgerError, match="closed"):
        writer.handle(EVENTS, {"docs": [result_row("late")], "jobs": []})
    writer.join()
    assert sink.result_ids() == []


def test_close_waits_for_a_call_in_progress_and_writes_what_it_brought() -> None:
    sink = MemorySink()
    gate = threading.Event()
    entered = threading.Event()
    writer = LedgerWriter(sink, timings=FAST, fence=lambda: None).start()
    original = writer._events

    def slow_events(docs: list, jobs: list) -> None:  # type: ignore[type-arg]
        entered.set()
        gate.wait(5)  # the hand-over is inside the writer when close() starts
        original(docs, jobs)

    writer._events = slow_events  # type: ignore[method-assign]
    caller = threading.Thread(target=writer.handle, args=(EVENTS, {"docs": [result_row("d1")], "jobs": []}))
    caller.start()
    assert entered.wait(5)
    closer = threading.Thread(target=writer.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive(), "close() returned while an accepted call was still being handed over"
    gate.set()
    caller.join(5)
    closer.join(5)
    writer.join()
    assert sink.result_ids() == ["d1"]


def test_the_in_process_link_finishes_a_hand_over_whose_caller_was_cancelled() -> None:
    sink = MemorySink()
    writer = LedgerWriter(sink, timings=FAST).start()
    release = threading.Event()
    original = writer.handle

    def slow_handle(path: str, body: dict) -> dict:  # type: ignore[type-arg]
        release.wait(5)
        return original(path, body)  # type: ignore[return-value]

    writer.handle = slow_handle  # type: ignore[method-assign]
    link = InProcessLink(writer)

    async def go() -> None:
        flush = asyncio.create_task(link.events([result_row("d1"), result_row("d2")], []))
        await asyncio.sleep(0.05)
        flush.cancel()  # what the scheduler did to its flusher at the end of a run
        release.set()
        await link.aclose()  # waits for the call still in its thread

    asyncio.run(go())
    writer.close()
    writer.join()
    assert sorted(sink.result_ids()) == ["d1", "d2"]


def test_commits_are_grouped_and_answered_once_durable_and_lookup_knows_them() -> None:
    sink = MemorySink()
    writer = LedgerWriter(sink, timings=WriterTimings(commit_seconds=0.2)).start()
    threads = [
        threading.Thread(target=writer.handle, args=(COMMIT, {"jobs": [job_row(f"b{i}", job_id=f"j{i}")]}))
        for i in range(5)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(j["batch_id"] for j in sink.jobs) == [f"b{i}" for i in range(5)]
    assert writer.commits < 5 and writer.committed_jobs == 5  # grouped: fewer Delta commits than calls
    reply = writer.handle(LOOKUP, {"batch_ids": ["b1", "zz"]})
    assert reply["jobs"]["b1"]["job_id"] == "j1" and "zz" not in reply["jobs"]  # type: ignore[typeddict-item]
    writer.handle(EVENTS, {"docs": [], "jobs": [job_row("b1", job_id="j1", status="succeeded")]})
    assert writer.handle(LOOKUP, {"batch_ids": ["b1"]})["finished"] == ["b1"]  # type: ignore[typeddict-item]
    writer.close()
    writer.join()
    assert [u["status"] for u in sink.updates] == ["succeeded"]


def test_two_attempts_reporting_the_same_job_give_one_row_per_document() -> None:
    # A zombie or speculative task attempt polls a committed job that the live attempt also polled.
    sink = MemorySink()
    writer = LedgerWriter(sink, timings=WriterTimings(results_seconds=0.3)).start()
    for _ in range(2):
        writer.handle(EVENTS, {"docs": [result_row("d1"), result_row("d2")], "jobs": []})
    writer.close()
    writer.join()
    assert sorted(sink.result_ids()) == ["d1", "d2"]


def test_an_error_row_never_replaces_a_result_of_the_same_document() -> None:
    rows = [result_row("d", category="a"), result_row("d", category=None, error_code="JobFailed")]
    assert [r["category"] for r in dedupe_results(rows)] == ["a"]
    assert [r["category"] for r in dedupe_results(list(reversed(rows)))] == ["a"]
    later = [result_row("d", category="a"), result_row("d", category="b")]
    assert [r["category"] for r in dedupe_results(later)] == ["b"]


def test_a_failed_write_is_refused_to_later_calls_and_raised_by_close() -> None:
    writer = LedgerWriter(MemorySink(fail=OSError("No space left on device")), timings=FAST).start()
    with pytest.raises(LedgerError, match="No space left on device"):
        writer.handle(COMMIT, {"jobs": [job_row("b1")]})
    with pytest.raises(LedgerError, match="failed earlier"):
        writer.handle(LOOKUP, {"batch_ids": ["b1"]})
    with pytest.raises(LedgerError, match="the ledger failed: OSError"):
        writer.close()


def test_a_fence_that_raises_stops_every_write_and_aborts_the_tasks() -> None:
    sink = MemorySink()
    held = {"lease": True}

    def fence() -> None:
        if not held["lease"]:
            raise LedgerError("lease lost")

    writer = LedgerWriter(sink, timings=FAST, fence=fence).start()
    writer.handle(COMMIT, {"jobs": [job_row("b1")]})
    held["lease"] = False
    with pytest.raises(LedgerError, match="lease lost"):
        writer.handle(COMMIT, {"jobs": [job_row("b2")]})
    assert [j["batch_id"] for j in sink.jobs] == ["b1"]
    assert writer.abort is not None and "ledger failed" in writer.abort
    with pytest.raises(LedgerError):
        writer.close()


def test_every_expected_result_is_written_at_once_without_waiting_for_the_interval() -> None:
    sink = MemorySink()
    writer = LedgerWriter(sink, timings=WriterTimings(results_seconds=60.0), expected_docs=2).start()
    writer.handle(EVENTS, {"docs": [result_row("d1"), result_row("d2")], "jobs": []})
    deadline = time.monotonic() + 5
    while not sink.results and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.result_ids() == ["d1", "d2"]
    writer.close()
    writer.join()


def test_a_lost_lease_refuses_the_next_call_aborts_the_tasks_and_writes_nothing() -> None:
    from ctc_spark.errors import LeaseLostError

    sink = MemorySink()
    lost: list[LeaseLostError] = []

    def fence() -> None:
        if lost:
            raise lost[0]

    writer = LedgerWriter(sink, timings=FAST, fence=fence).start()
    writer.handle(COMMIT, {"jobs": [job_row("b1")]})
    lost.append(LeaseLostError("run r stopped: another run took its lease over", project="p", deployment="d"))
    with pytest.raises(LedgerError, match="another run took its lease over"):  # before the task submits again
        writer.handle(LOOKUP, {"batch_ids": ["b2"]})
    assert writer.abort is not None and "LeaseLostError" in writer.abort
    with pytest.raises(LedgerError) as failed:
        writer.close()
    assert isinstance(failed.value.__cause__, LeaseLostError)
    assert [j["batch_id"] for j in sink.jobs] == ["b1"], "nothing is written once the lease is lost"
