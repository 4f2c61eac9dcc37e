"""Evaluation JSON -> table rows and the report files."""

from __future__ import annotations

from pathlib import Path

from ctc_spark.training.report import evaluation_table, write_report
from ctc_spark.training.tables import evaluation_document_rows, evaluation_rows, parse_date, parse_datetime

SUMMARY = {
    "projectKind": "CustomSingleLabelClassification",
    "customSingleLabelClassificationEvaluation": {
        "confusionMatrix": {
            "Billing": {
                "Billing": {"normalizedValue": 90.0, "rawValue": 9.0},
                "Shipping": {"normalizedValue": 10.0, "rawValue": 1.0},
            },
            "Shipping": {"Shipping": {"normalizedValue": 100.0, "rawValue": 8.0}},
        },
        "classes": {
            "Billing": {
                "f1": 0.947,
                "precision": 1.0,
                "recall": 0.9,
                "truePositiveCount": 9,
                "trueNegativeCount": 8,
                "falsePositiveCount": 0,
                "falseNegativeCount": 1,
            },
            "Shipping": {
                "f1": 0.941,
                "precision": 0.889,
                "recall": 1.0,
                "truePositiveCount": 8,
                "trueNegativeCount": 9,
                "falsePositiveCount": 1,
                "falseNegativeCount": 0,
            },
        },
        "microF1": 0.944,
        "microPrecision": 0.944,
        "microRecall": 0.944,
        "macroF1": 0.944,
        "macroPrecision": 0.944,
        "macroRecall": 0.95,
    },
    "evaluationOptions": {"kind": "percentage", "trainingSplitPercentage": 80, "testingSplitPercentage": 20},
}


def test_evaluation_rows_cover_classes_averages_and_matrix() -> None:
    rows = evaluation_rows("p", "m1", SUMMARY)
    scopes = [r["scope"] for r in rows]
    assert scopes.count("class") == 2 and scopes.count("micro") == 1 and scopes.count("confusion") == 3
    billing = next(r for r in rows if r["scope"] == "class" and r["class_name"] == "Billing")
    assert (billing["true_positives"], billing["false_negatives"], billing["recall"]) == (9, 1, 0.9)
    cell = next(
        r
        for r in rows
        if r["scope"] == "confusion" and r["predicted_class"] == "Shipping" and r["class_name"] == "Billing"
    )
    assert cell["raw_value"] == 1.0


def test_document_rows_for_single_and_multi() -> None:
    rows = evaluation_document_rows(
        "p",
        "m",
        [
            {
                "location": "a.txt",
                "customSingleLabelClassificationResult": {"expectedClass": "A", "predictedClass": "B"},
            },
            {
                "location": "b.txt",
                "customMultiLabelClassificationResult": {"expectedClasses": ["A", "B"], "predictedClasses": ["B", "A"]},
            },
        ],
    )
    assert [(r["location"], r["correct"]) for r in rows] == [("a.txt", "false"), ("b.txt", "true")]


def test_dates_parse_service_formats() -> None:
    assert str(parse_date("2025-10-22")) == "2025-10-22"
    assert parse_date(None) is None and parse_date("soon") is None
    ts = parse_datetime("2022-04-18T15:45:06.8190649Z")
    assert ts is not None and ts.microsecond == 819064 and ts.utcoffset() is not None


def test_table_and_report_files(tmp_path: Path) -> None:
    text = evaluation_table(SUMMARY)
    assert "Billing" in text and "macro avg" in text and "0.947" in text
    page = write_report(SUMMARY, tmp_path / "r", project="p", model="m1")
    assert (tmp_path / "r" / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "r" / "f1_by_class.png").stat().st_size > 1000
    assert "confusion_matrix.png" in page.read_text()
