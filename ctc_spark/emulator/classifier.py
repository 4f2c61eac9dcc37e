"""A real text classifier: TF-IDF features and logistic regression (one-vs-rest for multi-label).

Logistic regression's probabilities are what the service reports as confidence scores: single-label
returns the top class with its probability; multi-label returns every class whose own probability is at
least `threshold` (possibly none), highest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["TextClassifier", "train_classifier"]

Kind = Literal["single", "multi"]


class TextClassifier:
    """A trained, picklable classifier over raw texts."""

    def __init__(self, kind: Kind, classes: Sequence[str], pipeline: Any, threshold: float = 0.5) -> None:
        self.kind = kind
        self.classes = tuple(classes)
        self._pipeline = pipeline
        self.threshold = threshold

    def predict(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """For each text, (category, probability) pairs, best first."""
        if not texts:
            return []
        probabilities = self._pipeline.predict_proba(list(texts))
        out: list[list[tuple[str, float]]] = []
        for row in probabilities:
            scored = sorted(zip(self.classes, (float(p) for p in row), strict=True), key=lambda cp: -cp[1])
            if self.kind == "single":
                out.append([(scored[0][0], round(scored[0][1], 4))])
            else:
                out.append([(c, round(p, 4)) for c, p in scored if p >= self.threshold])
        return out


def train_classifier(
    texts: Sequence[str], labels: Sequence[Sequence[str]], *, kind: Kind, seed: int = 0
) -> TextClassifier:
    """Fit on (texts, labels); single-label uses each document's first label.

    Raises:
        ValueError: no documents, mismatched lengths, or fewer than two classes for single-label.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MultiLabelBinarizer

    if not texts or len(texts) != len(labels):
        raise ValueError(f"need as many label lists as texts, got {len(texts)} texts and {len(labels)} labels")
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=1, max_features=200_000)
    if kind == "single":
        y = [str(label[0]) for label in labels]
        classes = sorted(set(y))
        if len(classes) < 2:
            raise ValueError(f"single-label training needs at least two classes, got {classes}")
        model = make_pipeline(vectorizer, LogisticRegression(C=10.0, max_iter=1000, random_state=seed))
        model.fit(list(texts), y)
        return TextClassifier("single", [str(c) for c in model.classes_], model)
    binarizer = MultiLabelBinarizer()
    matrix = binarizer.fit_transform([list(map(str, label)) for label in labels])
    estimator = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=1000, random_state=seed))
    model = make_pipeline(vectorizer, estimator)
    model.fit(list(texts), matrix)
    return TextClassifier("multi", [str(c) for c in binarizer.classes_], model)
