"""Labelled-data validation: every rule names the document, column or value."""

from __future__ import annotations

import pytest

from ctc_spark.errors import InputError
from ctc_spark.training.blobs import blob_name
from ctc_spark.training.labels import LabelledDoc, validate_class_name, validate_labelled, validate_resource_name


def _docs(n: int = 12, kind: str = "single") -> list[LabelledDoc]:
    classes = ("billing", "shipping", "returns")
    return [
        LabelledDoc(
            f"d{i}",
            f"text number {i}",
            (classes[i % 3],) if kind == "single" else (classes[i % 3], classes[(i + 1) % 3]),
        )
        for i in range(n)
    ]


def test_valid_data_reports_classes_and_split_warnings() -> None:
    report = validate_labelled(_docs(12), kind="single", split_percent=80)
    assert report.classes == ("billing", "returns", "shipping") and report.documents == 12
    assert any("may be missing from the test set" in w for w in report.warnings)
    assert validate_labelled(_docs(60), kind="single", split_percent=80).warnings == ()


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d[:9], "9 documents"),
        (lambda d: [*d[:-1], LabelledDoc("d11", "   ", ("billing",))], "'d11' has an empty text"),
        (lambda d: [*d[:-1], LabelledDoc("d11", None, ("billing",))], "'d11' has an empty text"),
        (lambda d: [*d[:-1], LabelledDoc("d11", "t", (None,))], "null or empty label.*'d11'"),
        (lambda d: [*d[:-1], LabelledDoc("d11", "t", ("a/b",))], "class name 'a/b'.*forbids"),
        (lambda d: [*d[:-1], LabelledDoc("d11", "t", ("billing", "returns"))], "'d11' has 2 labels"),
        (lambda d: [*d[:-1], LabelledDoc("d11", "t", ("billing",), "Dev")], "dataset 'Dev'"),
        (lambda d: [*d[:-1], LabelledDoc("d0", "t", ("billing",))], "duplicate document id 'd0'"),
        (lambda d: [*d[:-1], LabelledDoc("d11", "x" * 128_001, ("billing",))], "128001 characters"),
    ],
)
def test_bad_data_is_refused_with_a_clear_error(mutate, match: str) -> None:
    with pytest.raises(InputError, match=match):
        validate_labelled(mutate(_docs()), kind="single")


def test_unknown_label_against_known_classes_and_multi_label() -> None:
    with pytest.raises(InputError, match="unknown label 'returns'"):
        validate_labelled(_docs(), kind="single", known_classes=["billing", "shipping"])
    assert validate_labelled(_docs(12, "multi"), kind="multi").classes == ("billing", "returns", "shipping")


def test_manual_split_warns_about_classes_missing_from_a_part() -> None:
    docs = [
        LabelledDoc(f"d{i}", "t", ("a" if i < 6 else "b",), "Train" if i % 2 or i < 6 else "Test") for i in range(12)
    ]
    warnings = validate_labelled(docs, kind="single").warnings
    assert "class 'a' has no document in the Test split" in warnings


def test_names_and_blob_names() -> None:
    assert validate_resource_name("project", "my_proj-1.v2") == "my_proj-1.v2"
    with pytest.raises(InputError, match="invalid deployment name 'bad name'"):
        validate_resource_name("deployment", "bad name")
    assert validate_class_name("Billing & Co".replace("&", "and")) == "Billing and Co"
    assert blob_name("hello") == blob_name("hello") != blob_name("hello!")
    assert blob_name("hello").endswith(".txt") and blob_name("hello")[:-4].isalnum()
