"""The service's vocabulary is written once, in `ctc_spark/service/vocabulary.py`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ctc_spark.service import is_terminal
from ctc_spark.service.vocabulary import (
    JobStatus,
    evaluation_body,
    evaluation_classes,
    job_id_from_location,
    project_kind,
)

PACKAGE = Path(__file__).resolve().parents[3] / "ctc_spark"


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("succeeded", JobStatus.SUCCEEDED),
        ("partiallyCompleted", JobStatus.PARTIALLY_COMPLETED),
        ("PARTIALLYSUCCEEDED", JobStatus.PARTIALLY_SUCCEEDED),
        ("canceled", JobStatus.CANCELLED),
        ("notstarted", JobStatus.NOT_STARTED),
        ("fatal", JobStatus.FATAL),
        ("weird", None),
        (None, None),
    ],
)
def test_statuses_parse_in_any_case(text: str | None, status: JobStatus | None) -> None:
    assert JobStatus.parse(text) is status


def test_every_status_has_one_role() -> None:
    engine_only = {JobStatus.SUBMITTED, JobStatus.EXPIRED, JobStatus.UNKNOWN, JobStatus.REJECTED, JobStatus.FATAL}
    for status in JobStatus:
        roles = [status.is_success, status.is_failure, status.is_active, status in engine_only]
        assert roles.count(True) == 1, status
    assert is_terminal("partiallySucceeded") and is_terminal("Cancelled") and not is_terminal("running")
    assert JobStatus.FATAL == "fatal" and f"{JobStatus.SUBMITTED}" == "submitted"


def test_kinds_job_ids_and_evaluations() -> None:
    assert project_kind("multi") == "CustomMultiLabelClassification"
    with pytest.raises(ValueError, match="'triple'"):
        project_kind("triple")
    assert job_id_from_location("https://h/language/analyze-text/jobs/abc-1/?api-version=2023-04-01") == "abc-1"
    single = {"customSingleLabelClassificationEvaluation": {"microF1": 0.9}}
    assert evaluation_body(single) == {"microF1": 0.9} and evaluation_body({}) == {}
    multi = {"customMultiLabelClassificationResult": {"expectedClasses": ["a", "b"], "predictedClasses": ["a"]}}
    assert evaluation_classes(multi) == (["a", "b"], ["a"])
    one = {"customSingleLabelClassificationResult": {"expectedClass": "x", "predictedClass": "y"}}
    assert evaluation_classes(one) == (["x"], ["y"])


@pytest.mark.parametrize(
    "pattern",
    [
        r"CustomSingleLabelClassification\b",
        r"customSingleLabelClassification(Evaluation|Result)",
        r"(?i)\"partially(completed|succeeded)\"",
        r"(?i)\"notstarted\"",
        r"\"(cancelled|canceled)\"",
        r"rsplit\(\"/\", 1\)\[-1\]",
    ],
)
def test_written_once_outside_the_emulator(pattern: str) -> None:
    where = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "emulator" not in path.parts and re.search(pattern, path.read_text(encoding="utf-8"))
    ]
    assert where == ["service/vocabulary.py"], where
