"""A run id the caller chose is looked up in `runs` (a reused one is refused); a generated one is not: it is a
timestamp and 32 random bits, and the lookup is a cold read of `runs` on every nightly run's open."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ctc_spark.engine import run as run_module
from ctc_spark.io.tables import TableLocation


@pytest.fixture
def looked_up(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(run_module.ledger, "ensure_engine_tables", lambda spark, tables: set())  # all exist
    monkeypatch.setattr(run_module, "add_missing_columns", lambda *args: [])
    monkeypatch.setattr(run_module, "_refuse_reused_run_id", lambda run: calls.append(run.summary.run_id))
    return calls


def _run(*, named: bool) -> Any:
    summary = SimpleNamespace(run_id="nightly-1")
    return SimpleNamespace(spark=None, tables=TableLocation.parse("/tmp/ctc-unit"), summary=summary, named=named)


def test_a_chosen_run_id_is_looked_up_in_runs(looked_up: list[str]) -> None:
    assert run_module._ensure_tables(_run(named=True)) == set()
    assert looked_up == ["nightly-1"]


def test_a_generated_run_id_is_not(looked_up: list[str]) -> None:
    assert run_module._ensure_tables(_run(named=False)) == set()
    assert looked_up == []
