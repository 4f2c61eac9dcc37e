"""The cost arithmetic: text records per document, calls, duration at the quota, and the budget cap."""

from __future__ import annotations

import pickle

import pytest

from ctc_spark.engine.planning.estimate import Plan, check_budget, text_records
from ctc_spark.errors import BudgetExceededError, ConfigError


def _plan(**overrides: int) -> Plan:
    fields = {
        "input_docs": 1000,
        "skipped_docs": 300,
        "invalid_docs": 20,
        "send_docs": 630,
        "requests": 26,
        "text_records": 900,
        "resumed_jobs": 2,
        "resumed_docs": 50,
        "calls_per_minute": 1000,
    }
    fields.update(overrides)
    return Plan(**fields)


@pytest.mark.parametrize(("chars", "records"), [(1, 1), (999, 1), (1000, 1), (1001, 2), (2500, 3), (5120, 6)])
def test_a_document_is_billed_per_started_thousand_characters(chars: int, records: int) -> None:
    assert text_records(chars) == records


def test_a_zero_length_document_still_counts_one_record_if_sent() -> None:
    assert text_records(0) == 1


def test_calls_are_one_submit_per_request_and_one_poll_per_request_or_resumed_job() -> None:
    plan = _plan()
    assert (plan.submit_calls, plan.poll_calls, plan.calls) == (26, 28, 54)
    assert plan.input_docs == plan.skipped_docs + plan.invalid_docs + plan.send_docs + plan.resumed_docs


def test_the_duration_is_the_calls_at_the_configured_quota() -> None:
    assert _plan(calls_per_minute=1000).estimated_seconds == pytest.approx(54 * 60 / 1000)
    assert _plan(requests=400, resumed_jobs=0, calls_per_minute=6000).estimated_seconds == pytest.approx(8.0)
    assert _plan(calls_per_minute=0).estimated_seconds == 0.0
    # A burst is spent before the pace applies: 54 calls, 24 of them at once.
    assert _plan(calls_per_minute=1000, burst_calls=24).estimated_seconds == pytest.approx(30 * 60 / 1000)
    assert _plan(calls_per_minute=1000, burst_calls=500).estimated_seconds == 0.0


def test_describe_names_every_count() -> None:
    text = _plan().describe()
    for part in ("630 to send", "300 to skip", "20 invalid", "50 in 2 open jobs", "26 requests", "900 text records"):
        assert part in text, text
    assert "54 calls (26 submits + 28 polls)" in text and "at 1000 calls/min" in text


def test_the_budget_refuses_a_plan_over_the_cap_and_names_both_numbers() -> None:
    check_budget(_plan(), None)
    check_budget(_plan(), 900)
    with pytest.raises(BudgetExceededError, match=r"900 text records.*--max-text-records 899") as caught:
        check_budget(_plan(), 899)
    assert (caught.value.planned, caught.value.limit) == (900, 899)
    assert "2 open jobs already paid are not counted" in str(caught.value)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (again.planned, again.limit, str(again)) == (900, 899, str(caught.value))


def test_a_resumed_run_counts_only_what_it_still_has_to_pay() -> None:
    resumed_only = _plan(send_docs=0, requests=0, text_records=0, resumed_jobs=4, resumed_docs=100)
    check_budget(resumed_only, 0)
    assert resumed_only.calls == 4


def test_a_negative_cap_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="max-text-records"):
        check_budget(_plan(), -1)


def test_records_counted_before_packing_meet_the_same_cap() -> None:
    from ctc_spark.engine.planning.estimate import check_records

    check_records(900, 300, None)
    check_records(900, 300, 900)
    with pytest.raises(BudgetExceededError, match=r"bills 900 text records \(300 documents\).*--max-text-records 899"):
        check_records(900, 300, 899)
    with pytest.raises(ConfigError, match="max-text-records"):
        check_records(0, 0, -1)
