"""The error tree: one root, transient vs permanent, context attributes that survive pickling."""

from __future__ import annotations

import pickle

import pytest

from ctc_spark import errors
from ctc_spark.errors import (
    AuthenticationError,
    ConfigError,
    CTCError,
    ReconciliationError,
    ServiceError,
    ThrottledError,
    TransientServiceError,
)


@pytest.mark.parametrize(
    "err",
    [
        ThrottledError("slow down", status=429, code="429", retry_after=2.5, request_id="req-1"),
        AuthenticationError("denied", status=401, code="401"),
        ConfigError("bad", key="service.endpoint", source="conf/x.toml"),
        ReconciliationError("lost 2", expected=10, found=8),
        errors.SubmitOutcomeUnknownError("maybe", cause="ReadTimeout"),
        errors.JobFailedError("failed", job_id="j1", status="failed"),
        errors.RunInProgressError("busy", run_id="r1", started_at="2026-11-30T10:00:00+00:00"),
        errors.LeaseLostError("lost", tables="/t", project="p", deployment="d", run_id="r1"),
    ],
)
def test_errors_round_trip_through_pickle(err: CTCError) -> None:
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err)
    assert str(clone) == str(err)
    assert clone.__dict__ == err.__dict__


def test_hierarchy_separates_transient_from_permanent() -> None:
    assert issubclass(ThrottledError, TransientServiceError)
    assert issubclass(TransientServiceError, ServiceError)
    assert not issubclass(AuthenticationError, TransientServiceError)
    assert all(issubclass(getattr(errors, name), CTCError) for name in errors.__all__)


def test_service_error_message_carries_status_and_codes() -> None:
    err = ServiceError("Document text is empty.", status=400, code="InvalidArgument", inner_code="InvalidDocument")
    assert str(err) == "HTTP 400 InvalidArgument/InvalidDocument: Document text is empty."
    assert err.inner_code == "InvalidDocument"
