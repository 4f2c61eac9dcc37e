"""Pure pieces of the training orchestration: import bodies, job ids, expiry warnings."""

from __future__ import annotations

from datetime import date

import pytest

from ctc_spark.errors import InputError
from ctc_spark.service.vocabulary import job_id_from_location
from ctc_spark.training.blobs import blob_name
from ctc_spark.training.labels import LabelledDoc
from ctc_spark.training.workflow import TrainOptions, expiry_warnings, exported_project, train_model


def test_import_body_points_at_content_addressed_blobs() -> None:
    docs = [LabelledDoc("a", "alpha", ("x",)), LabelledDoc("b", "beta", ("y",), "Test")]
    single = exported_project("p", "single", "c", docs, ["x", "y"])
    assert single["metadata"]["projectKind"] == single["assets"]["projectKind"] == "CustomSingleLabelClassification"
    assert single["assets"]["documents"][0] == {
        "location": blob_name("alpha"),
        "language": "en",
        "dataset": "Train",
        "class": {"category": "x"},
    }
    assert single["assets"]["documents"][1]["dataset"] == "Test"
    multi = exported_project("p", "multi", "c", [LabelledDoc("a", "alpha", ("x", "y"))], ["x", "y"])
    assert multi["assets"]["documents"][0]["classes"] == [{"category": "x"}, {"category": "y"}]


def test_job_id_is_the_last_path_segment() -> None:
    assert (
        job_id_from_location("https://h/language/authoring/analyze-text/projects/p/train/jobs/abc_123?api-version=x")
        == "abc_123"
    )


def test_expiry_warnings_within_thirty_days() -> None:
    today = date(2026, 11, 25)
    dates = {"modelExpirationDate": "2026-12-10", "deploymentExpirationDate": "2027-10-22", "other": None}
    assert expiry_warnings("model m1", dates, today) == [
        "warning: model m1 modelExpirationDate expires on 2026-12-10, within 30 days"
    ]
    assert expiry_warnings("model m1", {"d": "2025-10-22"}, today) == ["warning: model m1 d expired on 2025-10-22"]


@pytest.mark.parametrize("split", [0, 100, None])
def test_split_outside_1_to_99_is_refused_before_any_call(split: int | None) -> None:
    docs = [LabelledDoc(f"d{i}", f"text {i}", ("x",)) for i in range(12)]
    options = TrainOptions(project="p", kind="single", model_label="m", split=split)
    # settings and client None: the check must come before the first call to the service or to Blob storage.
    with pytest.raises(InputError, match="training percentage must be 1 to 99"):
        train_model(None, None, docs, options)  # type: ignore[arg-type]
