"""The synthetic corpus: deterministic, shaped as asked, and learnable."""

from __future__ import annotations

from collections import Counter

import pytest

from ctc_spark.local.corpus import CLASS_NAMES, class_names, generate_corpus


def test_same_arguments_give_the_same_corpus() -> None:
    assert generate_corpus(50, seed=3) == generate_corpus(50, seed=3)
    assert generate_corpus(50, seed=3) != generate_corpus(50, seed=4)


def test_single_label_shape_and_lengths() -> None:
    docs = generate_corpus(400, n_classes=4, min_words=10, max_words=40, seed=1)
    assert len({d.id for d in docs}) == 400
    assert all(len(d.labels) == 1 and d.labels[0] in CLASS_NAMES[:4] for d in docs)
    lengths = [len(d.text.split()) for d in docs]
    assert min(lengths) >= 10 and max(lengths) <= 40
    assert len(Counter(d.labels[0] for d in docs)) == 4


def test_multi_label_rate_is_respected() -> None:
    docs = generate_corpus(2000, kind="multi", n_classes=6, multi_label_rate=0.4, seed=2)
    rate = sum(len(d.labels) > 1 for d in docs) / len(docs)
    assert 0.33 < rate < 0.47
    assert all(len(set(d.labels)) == len(d.labels) for d in docs)


def test_classes_are_learnable_by_vocabulary_overlap() -> None:
    # A nearest-vocabulary rule, fitted on half and scored on the other half, must beat chance by far.
    docs = generate_corpus(600, n_classes=5, seed=7)
    train, test = docs[:300], docs[300:]
    vocab: dict[str, Counter[str]] = {}
    for d in train:
        vocab.setdefault(d.labels[0], Counter()).update(d.text.lower().replace(".", "").split())
    common = set.intersection(*(set(c) for c in vocab.values()))
    hits = 0
    for d in test:
        words = [w for w in d.text.lower().replace(".", "").split() if w not in common]
        guess = max(vocab, key=lambda c: sum(vocab[c][w] > 0 for w in words))
        hits += guess == d.labels[0]
    assert hits / len(test) > 0.8


def test_class_names_extend_past_the_builtin_list_and_reject_bad_counts() -> None:
    names = class_names(25)
    assert names[:20] == CLASS_NAMES and names[20] == "class-020" and len(set(names)) == 25
    with pytest.raises(ValueError, match=r"1\.\.200"):
        class_names(0)
    with pytest.raises(ValueError, match="multi_label_rate"):
        generate_corpus(5, multi_label_rate=1.5)


def test_noise_blurs_the_classes_without_changing_the_default() -> None:
    clean = generate_corpus(300, n_classes=4, seed=9)
    assert generate_corpus(300, n_classes=4, seed=9, noise=0.0) == clean
    noisy = generate_corpus(300, n_classes=4, seed=9, noise=0.6)
    from ctc_spark.local.corpus import _vocabulary

    vocab = {c: set(_vocabulary(c)) for c in CLASS_NAMES[:4]}
    every = set().union(*vocab.values())

    def foreign_share(docs) -> float:
        own = total = 0
        for d in docs:
            topical = [w for w in d.text.lower().replace(".", "").split() if w in every]
            total += len(topical)
            own += sum(w in vocab[d.labels[0]] for w in topical)
        return 1 - own / total

    assert foreign_share(clean) < 0.01 < 0.2 < foreign_share(noisy)
    with pytest.raises(ValueError, match="noise"):
        generate_corpus(5, noise=1.0)
