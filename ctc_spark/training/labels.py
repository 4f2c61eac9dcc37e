"""Pure validation of labelled training data against the service's limits, before anything is uploaded."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ctc_spark.errors import InputError

__all__ = [
    "MAX_CLASSES",
    "MAX_DOC_CHARS",
    "MIN_DOCS",
    "LabelReport",
    "LabelledDoc",
    "validate_class_name",
    "validate_labelled",
    "validate_resource_name",
]

MIN_DOCS, MAX_DOCS = 10, 100_000
MAX_CLASSES = 200
MAX_DOC_CHARS = 128_000
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,50}$")
_FORBIDDEN_CLASS_CHARS = set(":$&%*()+~#/?")


@dataclass(frozen=True)
class LabelledDoc:
    """One training document: id, text, its labels, and its dataset (`Train`/`Test`) for a manual split."""

    id: str
    text: str | None
    labels: tuple[str | None, ...]
    dataset: str | None = None


@dataclass(frozen=True)
class LabelReport:
    """What validation found: the classes (sorted), the document count and warnings that don't block."""

    classes: tuple[str, ...]
    documents: int
    warnings: tuple[str, ...]


def validate_resource_name(what: str, value: str) -> str:
    """A project, model or deployment name: letters, digits, `_`, `.`, `-`, at most 50.

    Raises:
        InputError: names the value and the rule.
    """
    if not _NAME.match(value or ""):
        raise InputError(f"invalid {what} name {value!r}: use letters, digits, '_', '.', '-' (1-50 characters)")
    return value


def validate_class_name(name: str | None, *, doc_id: str | None = None) -> str:
    """A class name the service accepts: 1-50 characters, none of `: $ & % * ( ) + ~ # / ?`.

    Raises:
        InputError: names the class (and the document it came from).
    """
    where = f" (document {doc_id!r})" if doc_id else ""
    if name is None or not name.strip():
        raise InputError(f"null or empty label{where}", column="label")
    bad = sorted(set(name) & _FORBIDDEN_CLASS_CHARS)
    if bad or len(name) > 50:
        rule = f"contains {' '.join(bad)}" if bad else "is longer than 50 characters"
        raise InputError(
            f"class name {name!r}{where} {rule}; the service forbids : $ & % * ( ) + ~ # / ?", column="label"
        )
    return name


def validate_labelled(
    docs: Sequence[LabelledDoc],
    *,
    kind: str,
    known_classes: Sequence[str] | None = None,
    split_percent: int | None = 80,
    source: str = "labelled data",
) -> LabelReport:
    """Check the whole set; the first problem raises, naming the document, column or value.

    Raises:
        InputError: too few or too many documents, a null/empty/oversized text, a null, forbidden or
            unknown label, a single-label document with several labels, a bad dataset, or a bad class count.
    """
    if not MIN_DOCS <= len(docs) <= MAX_DOCS:
        raise InputError(
            f"{source} has {len(docs)} documents; the service needs {MIN_DOCS} to {MAX_DOCS}", source=source
        )
    seen: set[str] = set()
    counts: Counter[str] = Counter()
    by_set: dict[str, Counter[str]] = {"Train": Counter(), "Test": Counter()}
    for doc in docs:
        _check_doc(doc, kind, known_classes, seen, source)
        for label in doc.labels:
            counts[str(label)] += 1
            if doc.dataset:
                by_set[doc.dataset][str(label)] += 1
    if not 1 <= len(counts) <= MAX_CLASSES:
        raise InputError(f"{source} has {len(counts)} classes; the service allows 1 to {MAX_CLASSES}", source=source)
    return LabelReport(tuple(sorted(counts)), len(docs), tuple(_split_warnings(counts, by_set, split_percent)))


def _check_doc(doc: LabelledDoc, kind: str, known: Sequence[str] | None, seen: set[str], source: str) -> None:
    if doc.id in seen:
        raise InputError(f"duplicate document id {doc.id!r} in {source}", source=source, column="id")
    seen.add(doc.id)
    if doc.text is None or not doc.text.strip():
        raise InputError(f"document {doc.id!r} has an empty text", source=source, column="text")
    if len(doc.text) > MAX_DOC_CHARS:
        raise InputError(
            f"document {doc.id!r} has {len(doc.text)} characters; the limit is {MAX_DOC_CHARS}",
            source=source,
            column="text",
        )
    if not doc.labels:
        raise InputError(f"document {doc.id!r} has no label", source=source, column="label")
    if kind == "single" and len(doc.labels) != 1:
        raise InputError(f"document {doc.id!r} has {len(doc.labels)} labels in a single-label project", source=source)
    for label in doc.labels:
        validate_class_name(label, doc_id=doc.id)
        if known is not None and label not in known:
            raise InputError(f"document {doc.id!r} has unknown label {label!r}; known: {sorted(known)}", source=source)
    if doc.dataset not in (None, "Train", "Test"):
        raise InputError(f"document {doc.id!r} has dataset {doc.dataset!r}; use Train or Test", source=source)


def _split_warnings(counts: Counter[str], by_set: dict[str, Counter[str]], split_percent: int | None) -> list[str]:
    warnings = []
    if any(by_set[s] for s in by_set):
        for name in sorted(counts):
            for part in ("Train", "Test"):
                if not by_set[part][name]:
                    warnings.append(f"class {name!r} has no document in the {part} split")
    elif split_percent is not None:
        needed = math.ceil(100 / max(1, 100 - split_percent))
        for name, n in sorted(counts.items()):
            if n < needed:
                warnings.append(
                    f"class {name!r} has {n} documents; with a {split_percent}/{100 - split_percent} "
                    f"split it may be missing from the test set"
                )
    return warnings
