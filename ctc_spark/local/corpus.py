"""A learnable synthetic labelled corpus, single- or multi-label, for tests, the demo and the benchmarks.

Each class has its own vocabulary of invented words, mixed into common English filler, so a bag-of-words
model learns it well above chance while documents still look like running text.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["CLASS_NAMES", "CorpusDoc", "class_names", "corpus_dataframe", "generate_corpus"]

CLASS_NAMES: tuple[str, ...] = (
    "sports",
    "finance",
    "health",
    "technology",
    "travel",
    "politics",
    "science",
    "music",
    "food",
    "weather",
    "education",
    "fashion",
    "gaming",
    "legal",
    "energy",
    "automotive",
    "real-estate",
    "retail",
    "security",
    "space",
)

_COMMON = [
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "of",
    "to",
    "in",
    "on",
    "for",
    "with",
    "as",
    "at",
    "by",
    "from",
    "this",
    "that",
    "these",
    "those",
    "it",
    "its",
    "is",
    "was",
    "are",
    "were",
    "be",
    "been",
    "has",
    "have",
    "had",
    "will",
    "would",
    "can",
    "could",
    "should",
    "may",
    "might",
    "about",
    "after",
    "before",
    "over",
    "under",
    "more",
    "most",
    "some",
    "many",
    "few",
    "new",
    "old",
    "good",
    "great",
    "other",
    "such",
    "only",
    "also",
    "very",
    "just",
    "into",
    "than",
    "then",
    "there",
    "their",
    "they",
    "we",
    "our",
    "you",
    "your",
    "said",
    "says",
    "report",
    "today",
    "week",
    "year",
    "people",
    "time",
    "day",
    "way",
    "part",
    "place",
    "case",
    "point",
    "group",
    "number",
]
_SYLLABLES = ("ka", "lo", "mi", "ra", "ven", "tor", "sil", "qua", "zen", "bri", "dor", "fel", "gan", "hul", "jor")
_VOCAB_SIZE = 40
_TOPIC_SHARE = 0.35


@dataclass(frozen=True)
class CorpusDoc:
    """One generated document and its labels (one label for single-label corpora)."""

    id: str
    text: str
    labels: tuple[str, ...]


def class_names(n_classes: int) -> tuple[str, ...]:
    """The first `n_classes` class names; names past the built-in list are `class-NNN`."""
    if not 1 <= n_classes <= 200:
        raise ValueError(f"n_classes must be 1..200, got {n_classes}")
    extra = tuple(f"class-{i:03d}" for i in range(len(CLASS_NAMES), n_classes))
    return (CLASS_NAMES + extra)[:n_classes]


def _vocabulary(name: str) -> tuple[str, ...]:
    rng = random.Random(f"vocab:{name}")
    words: set[str] = set()
    while len(words) < _VOCAB_SIZE:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))))
    return tuple(sorted(words))


def generate_corpus(
    n_docs: int,
    *,
    kind: Literal["single", "multi"] = "single",
    n_classes: int = 5,
    seed: int = 0,
    min_words: int = 20,
    max_words: int = 200,
    multi_label_rate: float = 0.3,
    id_prefix: str = "doc",
    noise: float = 0.0,
) -> list[CorpusDoc]:
    """Generate `n_docs` documents; the same arguments always give the same corpus.

    Lengths are drawn log-uniformly between `min_words` and `max_words`. In multi-label corpora a
    document has a second (and rarely a third) label with probability `multi_label_rate`. `noise` is the
    share of topic words borrowed from other classes, which makes the classes overlap (0 keeps them apart).
    """
    if n_docs < 0 or min_words < 1 or max_words < min_words:
        raise ValueError(f"bad corpus shape: n_docs={n_docs}, words={min_words}..{max_words}")
    if not 0.0 <= multi_label_rate <= 1.0:
        raise ValueError(f"multi_label_rate must be within 0..1, got {multi_label_rate}")
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be within 0..1, got {noise}")
    names = class_names(n_classes)
    vocab = {name: _vocabulary(name) for name in names}
    rng = random.Random(seed)
    width = max(6, len(str(n_docs)))
    docs = []
    for i in range(n_docs):
        labels = _labels(rng, names, kind, multi_label_rate)
        n_words = round(min_words * (max_words / min_words) ** rng.random())
        docs.append(CorpusDoc(f"{id_prefix}-{i:0{width}d}", _text(rng, labels, vocab, n_words, noise), labels))
    return docs


def _labels(rng: random.Random, names: Sequence[str], kind: str, rate: float) -> tuple[str, ...]:
    first = rng.choice(names)
    if kind == "single" or len(names) == 1 or rng.random() >= rate:
        return (first,)
    extra = 2 if len(names) > 2 and rng.random() < 0.15 else 1
    others = rng.sample([n for n in names if n != first], extra)
    return tuple(sorted((first, *others)))


def _text(
    rng: random.Random, labels: Sequence[str], vocab: dict[str, tuple[str, ...]], n_words: int, noise: float
) -> str:
    words = []
    for j in range(n_words):
        # Every label gets at least a few topic words, so short multi-label documents stay learnable.
        if j < 2 * len(labels):
            words.append(rng.choice(vocab[labels[j % len(labels)]]))
        elif rng.random() < _TOPIC_SHARE:
            source = rng.choice(list(vocab)) if noise and rng.random() < noise else rng.choice(labels)
            words.append(rng.choice(vocab[source]))
        else:
            words.append(rng.choice(_COMMON))
    rng.shuffle(words)
    sentences = [" ".join(words[k : k + 12]) for k in range(0, len(words), 12)]
    return ". ".join(s[:1].upper() + s[1:] for s in sentences) + "."


def corpus_dataframe(
    spark: SparkSession, docs: Sequence[CorpusDoc], *, kind: Literal["single", "multi"], labelled: bool = True
) -> DataFrame:
    """The corpus as a DataFrame: `id`, `text`, and `label` (single) or `labels` array<string> (multi)."""
    if not labelled:
        return spark.createDataFrame([(d.id, d.text) for d in docs], "id STRING, text STRING")
    if kind == "single":
        return spark.createDataFrame(
            [(d.id, d.text, d.labels[0]) for d in docs], "id STRING, text STRING, label STRING"
        )
    return spark.createDataFrame(
        [(d.id, d.text, list(d.labels)) for d in docs], "id STRING, text STRING, labels ARRAY<STRING>"
    )
