"""Pure evaluation metrics in the authoring API's shapes: per-class counts, micro/macro averages, confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

__all__ = [
    "ClassCounts",
    "Kind",
    "class_counts",
    "confusion_matrix",
    "document_results",
    "evaluation_summary",
    "project_kind",
]

Kind = Literal["single", "multi"]

_PROJECT_KINDS = {"single": "CustomSingleLabelClassification", "multi": "CustomMultiLabelClassification"}


def project_kind(kind: Kind) -> str:
    """The PascalCase `projectKind` the SDK discriminators expect for a task kind."""
    return _PROJECT_KINDS[kind]


class ClassCounts:
    """One class's one-vs-rest confusion counts over an evaluation set."""

    __slots__ = ("fn", "fp", "tn", "tp")

    def __init__(self, tp: int = 0, fp: int = 0, fn: int = 0, tn: int = 0) -> None:
        self.tp, self.fp, self.fn, self.tn = tp, fp, fn, tn

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    def as_json(self) -> dict[str, Any]:
        return {
            "f1": self.f1,
            "precision": self.precision,
            "recall": self.recall,
            "truePositiveCount": self.tp,
            "trueNegativeCount": self.tn,
            "falsePositiveCount": self.fp,
            "falseNegativeCount": self.fn,
        }

    def __repr__(self) -> str:
        return f"ClassCounts(tp={self.tp}, fp={self.fp}, fn={self.fn}, tn={self.tn})"


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return 2 * precision * recall / total if total else 0.0


def class_counts(
    classes: Sequence[str], expected: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> dict[str, ClassCounts]:
    """One-vs-rest TP/FP/FN/TN per class; for every class the four counts add up to the number of documents.

    Raises:
        ValueError: `expected` and `predicted` differ in length.
    """
    if len(expected) != len(predicted):
        raise ValueError(f"{len(expected)} expected label sets but {len(predicted)} predictions")
    counts = {name: ClassCounts() for name in classes}
    for truth, guess in zip(expected, predicted, strict=True):
        t, g = set(truth), set(guess)
        for name, c in counts.items():
            if name in t and name in g:
                c.tp += 1
            elif name in g:
                c.fp += 1
            elif name in t:
                c.fn += 1
            else:
                c.tn += 1
    return counts


def _averages(counts: Mapping[str, ClassCounts]) -> dict[str, float]:
    tp = sum(c.tp for c in counts.values())
    fp = sum(c.fp for c in counts.values())
    fn = sum(c.fn for c in counts.values())
    micro_p, micro_r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    n = len(counts)
    macro_p = sum(c.precision for c in counts.values()) / n if n else 0.0
    macro_r = sum(c.recall for c in counts.values()) / n if n else 0.0
    macro_f = sum(c.f1 for c in counts.values()) / n if n else 0.0
    return {
        "microF1": _f1(micro_p, micro_r),
        "microPrecision": micro_p,
        "microRecall": micro_r,
        "macroF1": macro_f,
        "macroPrecision": macro_p,
        "macroRecall": macro_r,
    }


def confusion_matrix(
    classes: Sequence[str], expected: Sequence[str], predicted: Sequence[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """Single-label confusion matrix: row = expected class, `rawValue` = count, `normalizedValue` = % of the row."""
    raw = {row: dict.fromkeys(classes, 0) for row in classes}
    for truth, guess in zip(expected, predicted, strict=True):
        raw.setdefault(truth, dict.fromkeys(classes, 0))
        raw[truth][guess] = raw[truth].get(guess, 0) + 1
    matrix: dict[str, dict[str, dict[str, float]]] = {}
    for row, cells in raw.items():
        total = sum(cells.values())
        matrix[row] = {
            col: {"normalizedValue": 100.0 * n / total if total else 0.0, "rawValue": float(n)}
            for col, n in cells.items()
        }
    return matrix


def evaluation_summary(
    kind: Kind,
    classes: Sequence[str],
    expected: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    evaluation_options: Mapping[str, Any],
) -> dict[str, Any]:
    """The `evaluation/summary-result` body for one model's held-out predictions."""
    counts = class_counts(classes, expected, predicted)
    body: dict[str, Any] = {"classes": {name: c.as_json() for name, c in counts.items()}, **_averages(counts)}
    if kind == "single":
        body["confusionMatrix"] = confusion_matrix(classes, [_one(e) for e in expected], [_one(p) for p in predicted])
        key = "customSingleLabelClassificationEvaluation"
    else:
        key = "customMultiLabelClassificationEvaluation"
    return {"projectKind": project_kind(kind), key: body, "evaluationOptions": dict(evaluation_options)}


def _one(labels: Sequence[str]) -> str:
    return labels[0] if labels else ""


def document_results(
    kind: Kind,
    documents: Sequence[Mapping[str, str]],
    expected: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
) -> list[dict[str, Any]]:
    """The `evaluation/result` rows: one per held-out document (`location`, `language`) with expected vs predicted."""
    rows: list[dict[str, Any]] = []
    for doc, truth, guess in zip(documents, expected, predicted, strict=True):
        row: dict[str, Any] = {
            "location": doc["location"],
            "language": doc.get("language", "en"),
            "projectKind": project_kind(kind),
        }
        if kind == "single":
            row["customSingleLabelClassificationResult"] = {
                "expectedClass": _one(truth),
                "predictedClass": _one(guess),
            }
        else:
            row["customMultiLabelClassificationResult"] = {
                "expectedClasses": list(truth),
                "predictedClasses": list(guess),
            }
        rows.append(row)
    return rows
