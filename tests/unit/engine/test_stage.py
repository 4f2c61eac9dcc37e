from __future__ import annotations

from ctc_spark.engine.context import RunSummary
from ctc_spark.engine.stage import tally_outputs


def _counters(first_call_at: float | None, submits: int = 3) -> dict[str, float | int | None]:
    return {
        "submits": submits,
        "polls": 4,
        "retries": 1,
        "throttled": 2,
        "resubmits": 0,
        "first_call_at": first_call_at,
    }


def test_counters_add_up_and_the_phases_start_at_the_first_call_of_any_task() -> None:
    summary = RunSummary(run_id="r")
    first = tally_outputs(
        summary,
        [_counters(1012.0), _counters(1010.5, submits=5), _counters(None, submits=0)],
        launched=1008.0,
        started=1000.0,
        results_at=1060.5,
    )
    assert first == 1010.5
    assert (summary.submits, summary.polls, summary.retries, summary.throttled) == (8, 12, 3, 6)
    assert summary.planning_seconds == 10.5
    assert summary.service_seconds == 50.0
    assert summary.step_seconds == {"first_call": 2.5, "streaming": 50.0}


def test_a_stage_that_made_no_call_times_nothing() -> None:
    summary = RunSummary(run_id="r")
    assert tally_outputs(summary, [_counters(None, submits=0)], launched=5.0, started=1.0, results_at=9.0) is None
    assert summary.step_seconds == {}
    assert summary.service_seconds == 0.0


def test_without_committed_results_the_counts_still_add_up() -> None:
    summary = RunSummary(run_id="r")
    assert tally_outputs(summary, [_counters(7.0)], launched=5.0, started=1.0, results_at=None) == 7.0
    assert summary.submits == 3
    assert summary.step_seconds == {}
