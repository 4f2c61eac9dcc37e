"""The engine's acceptance tests (`tests/integration/engine/test_classify_engine.py`) under a Spark Connect session.

The same test functions, collected again here where `spark` is a local Spark Connect session: `auto` picks
the driver engine, so every test runs the driver engine end to end (5,000 documents single- and multi-label,
a re-run with no calls, bad inputs, the flaky fault profile, SIGKILL of a `SPARK_REMOTE=local[2]` run).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ctc_spark.engine import run as run_module
from ctc_spark.engine.engines import Engine

pytestmark = pytest.mark.integration

_SOURCE = Path(__file__).resolve().parents[1] / "engine" / "test_classify_engine.py"
_spec = importlib.util.spec_from_file_location("ctc_engine_acceptance", _SOURCE)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

deployed = _module.deployed
test_single_label_corpus_every_row_and_rerun_makes_no_calls = (
    _module.test_single_label_corpus_every_row_and_rerun_makes_no_calls
)
test_multi_label_corpus = _module.test_multi_label_corpus
test_bad_inputs_become_error_rows_and_duplicates_are_refused = (
    _module.test_bad_inputs_become_error_rows_and_duplicates_are_refused
)
test_faults_still_give_exactly_one_row_per_document = _module.test_faults_still_give_exactly_one_row_per_document
test_sigkill_mid_run_resumes_without_duplicates_or_losses = (
    _module.test_sigkill_mid_run_resumes_without_duplicates_or_losses
)


@pytest.fixture(autouse=True)
def _driver_engine_only(spark, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test here that would run the executor engine: this tier is the driver engine's."""
    chosen = run_module.select_engine

    def select(configured: str, session: object, **quota: float) -> Engine:
        engine = chosen(configured, session, **quota)
        assert engine.name == "driver", f"a Spark Connect session got the {engine} engine"
        return engine

    monkeypatch.setattr(run_module, "select_engine", select)
