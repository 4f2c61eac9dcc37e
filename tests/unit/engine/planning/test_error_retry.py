"""Which error rows a run sends again: every code the engine writes is classified, and each policy's rule."""

from __future__ import annotations

import pytest

from ctc_spark.engine.ledger.states import MISSING_RESULT, TERMINAL_ERRORS
from ctc_spark.engine.planning import packing
from ctc_spark.engine.planning.retry import (
    PERMANENT_CODES,
    TRANSIENT_CODES,
    check_retry_errors,
    done_condition,
    is_transient,
    retried,
)
from ctc_spark.errors import ConfigError


def test_every_code_the_engine_writes_is_either_transient_or_permanent() -> None:
    written = set(TERMINAL_ERRORS.values()) | {
        packing.ERR_NULL_DOCUMENT,
        packing.ERR_EMPTY_DOCUMENT,
        packing.ERR_DOCUMENT_TOO_LARGE,
        packing.ERR_INVALID_ENCODING,
        MISSING_RESULT,
    }
    assert written <= TRANSIENT_CODES | PERMANENT_CODES
    assert not TRANSIENT_CODES & PERMANENT_CODES


@pytest.mark.parametrize(
    "code", ["JobFailed", "JobExpired", "SubmitOutcomeUnknown", "MissingResult", "TooManyRequests"]
)
def test_the_services_failures_are_transient(code: str) -> None:
    assert is_transient(code)
    assert retried(code, "transient") and retried(code, "all") and not retried(code, "none")


@pytest.mark.parametrize(
    "code",
    ["NullDocument", "EmptyDocument", "DocumentTooLarge", "InvalidDocument", "RequestRejected", "InvalidEncoding"],
)
def test_refusals_of_the_document_are_permanent(code: str) -> None:
    assert code in PERMANENT_CODES and not is_transient(code)
    assert not retried(code, "transient") and retried(code, "all") and not retried(code, "none")


def test_an_unknown_code_is_left_alone_unless_every_error_is_retried() -> None:
    assert not retried("SomethingNew", "transient") and retried("SomethingNew", "all")


def test_a_classified_row_is_never_retried() -> None:
    assert not any(retried(None, policy) for policy in ("none", "transient", "all"))


def test_done_condition_is_the_sql_of_not_retried() -> None:
    assert done_condition("none") is None
    assert done_condition("all") == "error_code IS NULL"
    transient = done_condition("transient")
    assert transient is not None and transient.startswith("(error_code IS NULL OR error_code NOT IN (")
    assert all(f"'{c}'" in transient for c in TRANSIENT_CODES)
    assert not any(f"'{c}'" in transient for c in PERMANENT_CODES)


def test_an_unknown_policy_names_the_value_and_the_choices() -> None:
    assert check_retry_errors("all") == "all"
    with pytest.raises(ConfigError, match=r"'sometimes'.*none, transient, all"):
        check_retry_errors("sometimes")
