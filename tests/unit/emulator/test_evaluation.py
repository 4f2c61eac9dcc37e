"""Evaluation metrics: hand-computed counts, averages and the confusion matrix in the authoring API's shapes."""

from __future__ import annotations

import random

import pytest

from ctc_spark.emulator.evaluation import (
    class_counts,
    confusion_matrix,
    document_results,
    evaluation_summary,
)

CLASSES = ("A", "B", "C")
SINGLE_EXPECTED = [["A"], ["A"], ["A"], ["B"], ["B"], ["C"]]
SINGLE_PREDICTED = [["A"], ["A"], ["B"], ["B"], ["A"], ["C"]]
COUNT_KEYS = ("truePositiveCount", "falsePositiveCount", "falseNegativeCount", "trueNegativeCount")


def test_single_label_counts_match_hand_computation() -> None:
    counts = class_counts(CLASSES, SINGLE_EXPECTED, SINGLE_PREDICTED)
    a, b, c = counts["A"], counts["B"], counts["C"]
    assert (a.tp, a.fp, a.fn, a.tn) == (2, 1, 1, 2)
    assert (b.tp, b.fp, b.fn, b.tn) == (1, 1, 1, 3)
    assert (c.tp, c.fp, c.fn, c.tn) == (1, 0, 0, 5)
    assert a.precision == pytest.approx(2 / 3)
    assert a.recall == pytest.approx(2 / 3)
    assert b.f1 == pytest.approx(0.5)
    assert c.f1 == pytest.approx(1.0)


def test_counts_add_up_to_documents_for_every_class() -> None:
    expected = [["A", "B"], ["C"], [], ["A"], ["B", "C"]]
    predicted = [["A"], ["C", "B"], ["A"], [], ["B", "C"]]
    for counts in class_counts(CLASSES, expected, predicted).values():
        assert counts.tp + counts.fp + counts.fn + counts.tn == len(expected)


def test_micro_and_macro_averages() -> None:
    summary = evaluation_summary("single", CLASSES, SINGLE_EXPECTED, SINGLE_PREDICTED, {"kind": "percentage"})
    body = summary["customSingleLabelClassificationEvaluation"]
    # micro: TP=4, FP=2, FN=2 -> P=R=F1=2/3 (single-label micro = accuracy)
    assert body["microPrecision"] == pytest.approx(4 / 6)
    assert body["microRecall"] == pytest.approx(4 / 6)
    assert body["microF1"] == pytest.approx(4 / 6)
    assert body["macroPrecision"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert body["macroF1"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert summary["projectKind"] == "CustomSingleLabelClassification"
    assert summary["evaluationOptions"] == {"kind": "percentage"}
    assert body["classes"]["A"]["truePositiveCount"] == 2
    assert body["classes"]["B"]["falseNegativeCount"] == 1


def test_confusion_matrix_rows_are_percentages_of_expected() -> None:
    matrix = confusion_matrix(CLASSES, [e[0] for e in SINGLE_EXPECTED], [p[0] for p in SINGLE_PREDICTED])
    assert matrix["A"]["A"] == {"normalizedValue": pytest.approx(200 / 3), "rawValue": 2.0}
    assert matrix["A"]["B"]["rawValue"] == 1.0
    assert matrix["B"]["A"]["normalizedValue"] == pytest.approx(50.0)
    for row in matrix.values():
        assert sum(cell["normalizedValue"] for cell in row.values()) == pytest.approx(100.0)
    assert sum(cell["rawValue"] for row in matrix.values() for cell in row.values()) == len(SINGLE_EXPECTED)


def test_multi_label_summary_has_no_confusion_matrix() -> None:
    summary = evaluation_summary("multi", CLASSES, [["A", "B"], ["C"]], [["A"], ["C"]], {})
    body = summary["customMultiLabelClassificationEvaluation"]
    assert summary["projectKind"] == "CustomMultiLabelClassification"
    assert "confusionMatrix" not in body
    assert body["classes"]["B"]["falseNegativeCount"] == 1
    assert body["microPrecision"] == pytest.approx(1.0)
    assert body["microRecall"] == pytest.approx(2 / 3)


def test_document_results_shapes() -> None:
    docs = [{"location": "a.txt", "language": "en"}, {"location": "b.txt"}]
    single = document_results("single", docs, [["A"], ["B"]], [["A"], ["C"]])
    assert single[1]["customSingleLabelClassificationResult"] == {"expectedClass": "B", "predictedClass": "C"}
    assert single[1]["language"] == "en"
    multi = document_results("multi", docs, [["A", "B"], []], [["A"], ["C"]])
    assert multi[0]["customMultiLabelClassificationResult"]["predictedClasses"] == ["A"]
    assert multi[0]["projectKind"] == "CustomMultiLabelClassification"


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="2 expected"):
        class_counts(CLASSES, [["A"], ["B"]], [["A"]])


def test_empty_evaluation_set_gives_zeros_not_errors() -> None:
    summary = evaluation_summary("single", CLASSES, [], [], {})
    body = summary["customSingleLabelClassificationEvaluation"]
    assert body["microF1"] == 0.0
    assert body["classes"]["A"]["f1"] == 0.0


@pytest.mark.parametrize("seed", range(20))
def test_single_label_summary_agrees_with_its_confusion_matrix(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 40)
    expected = [[rng.choice(CLASSES)] for _ in range(n)]
    predicted = [[rng.choice(CLASSES)] for _ in range(n)]
    body = evaluation_summary("single", CLASSES, expected, predicted, {})["customSingleLabelClassificationEvaluation"]
    matrix = body["confusionMatrix"]
    for name in CLASSES:
        counts = body["classes"][name]
        row = sum(matrix[name][other]["rawValue"] for other in CLASSES)
        column = sum(matrix[other][name]["rawValue"] for other in CLASSES)
        assert counts["truePositiveCount"] == matrix[name][name]["rawValue"]
        assert counts["falseNegativeCount"] == row - matrix[name][name]["rawValue"]
        assert counts["falsePositiveCount"] == column - matrix[name][name]["rawValue"]
        assert sum(counts[k] for k in COUNT_KEYS) == n
    accuracy = sum(e == p for e, p in zip(expected, predicted, strict=True)) / n
    assert body["microPrecision"] == pytest.approx(accuracy)
    assert body["microRecall"] == pytest.approx(accuracy)


@pytest.mark.parametrize("seed", range(20))
def test_multi_label_micro_averages_pool_the_per_class_counts(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 30)
    expected = [rng.sample(CLASSES, rng.randint(0, 3)) for _ in range(n)]
    predicted = [rng.sample(CLASSES, rng.randint(0, 3)) for _ in range(n)]
    body = evaluation_summary("multi", CLASSES, expected, predicted, {})["customMultiLabelClassificationEvaluation"]
    classes = body["classes"].values()
    tp = sum(c["truePositiveCount"] for c in classes)
    fp = sum(c["falsePositiveCount"] for c in classes)
    fn = sum(c["falseNegativeCount"] for c in classes)
    assert tp == sum(len(set(e) & set(p)) for e, p in zip(expected, predicted, strict=True))
    assert tp + fn == sum(len(e) for e in expected) and tp + fp == sum(len(p) for p in predicted)
    assert body["microPrecision"] == pytest.approx(tp / (tp + fp) if tp + fp else 0.0)
    assert body["microRecall"] == pytest.approx(tp / (tp + fn) if tp + fn else 0.0)
    assert body["macroF1"] == pytest.approx(sum(c["f1"] for c in classes) / len(CLASSES))
    assert all(0.0 <= c["precision"] <= 1.0 and 0.0 <= c["recall"] <= 1.0 for c in classes)
