"""Pure planning: validate documents, pack them into analyze requests within limits, name batches stably."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = [
    "ERR_DOCUMENT_TOO_LARGE",
    "ERR_EMPTY_DOCUMENT",
    "ERR_INVALID_ENCODING",
    "ERR_NULL_DOCUMENT",
    "Batch",
    "PlannedDoc",
    "batch_id",
    "pack",
    "text_sha256",
    "validate_text",
]

ERR_NULL_DOCUMENT = "NullDocument"
ERR_EMPTY_DOCUMENT = "EmptyDocument"
ERR_DOCUMENT_TOO_LARGE = "DocumentTooLarge"
ERR_INVALID_ENCODING = "InvalidEncoding"  # bytes that are not UTF-8: a Latin-1 file, a binary column


@dataclass(frozen=True)
class PlannedDoc:
    """A document cleared for sending: its id, text and the sha256 of the text."""

    id: str
    text: str
    sha256: str


@dataclass(frozen=True)
class Batch:
    """One analyze request's worth of documents."""

    batch_id: str
    docs: tuple[PlannedDoc, ...]

    @property
    def chars(self) -> int:
        return sum(len(d.text) for d in self.docs)


def text_sha256(text: str) -> str:
    """Hex sha256 of the UTF-8 text (what `sha2(text, 256)` gives in Spark SQL)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def validate_text(text: str | None, max_chars: int) -> tuple[str, str] | None:
    """(error code, message) for a document that must not be sent, or None when it is fine."""
    if text is None:
        return ERR_NULL_DOCUMENT, "text is null"
    if not text.strip():
        return ERR_EMPTY_DOCUMENT, "text is empty or only whitespace"
    if len(text) > max_chars:
        return ERR_DOCUMENT_TOO_LARGE, f"text has {len(text)} characters; the limit is {max_chars}"
    return None


def batch_id(scope: str, docs: Sequence[PlannedDoc]) -> str:
    """A stable id for a batch: the same scope and documents (ids and texts) always give the same id."""
    h = hashlib.sha256(scope.encode("utf-8"))
    for d in docs:
        h.update(b"\0" + d.id.encode("utf-8") + b"\0" + d.sha256.encode("ascii"))
    return h.hexdigest()[:24]


def pack(docs: Iterable[PlannedDoc], *, max_docs: int, max_chars: int, scope: str) -> Iterator[Batch]:
    """Pack documents in the given order into batches of at most `max_docs` and `max_chars`.

    Raises:
        ValueError: a document alone exceeds `max_chars` (validate first).
    """
    current: list[PlannedDoc] = []
    chars = 0
    for doc in docs:
        size = len(doc.text)
        if size > max_chars:
            raise ValueError(f"document {doc.id!r} has {size} characters, over the request limit {max_chars}")
        if current and (len(current) == max_docs or chars + size > max_chars):
            yield Batch(batch_id(scope, current), tuple(current))
            current, chars = [], 0
        current.append(doc)
        chars += size
    if current:
        yield Batch(batch_id(scope, current), tuple(current))
