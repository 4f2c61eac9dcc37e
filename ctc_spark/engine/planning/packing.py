"""Pure planning: validate documents, pack them into analyze requests within limits, name batches stably."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ERR_DOCUMENT_TOO_LARGE",
    "ERR_EMPTY_DOCUMENT",
    "ERR_INVALID_ENCODING",
    "ERR_MISSING_RESULT",
    "ERR_NULL_DOCUMENT",
    "Batch",
    "PlannedDoc",
    "batch_id",
    "job_rows_to_docs",
    "pack",
    "text_sha256",
    "validate_text",
]

ERR_NULL_DOCUMENT = "NullDocument"
ERR_EMPTY_DOCUMENT = "EmptyDocument"
ERR_DOCUMENT_TOO_LARGE = "DocumentTooLarge"
ERR_INVALID_ENCODING = "InvalidEncoding"  # bytes that are not UTF-8: a Latin-1 file, a binary column
ERR_MISSING_RESULT = "MissingResult"


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


def job_rows_to_docs(job: Any, doc_ids: Sequence[str], sha256s: Sequence[str]) -> list[dict[str, Any]]:
    """One result row per sent document of a finished job; positional ids map back to the batch's doc ids.

    A document the service did not mention gets a `MissingResult` error row, so nothing is silently lost.
    """
    by_pos = {d.id: d for d in job.documents}
    out: list[dict[str, Any]] = []
    for pos, (doc_id, sha) in enumerate(zip(doc_ids, sha256s, strict=True)):
        base = {
            "row_type": "doc",
            "batch_id": None,
            "doc_id": doc_id,
            "text_sha256": sha,
            "job_id": job.job_id,
            "category": None,
            "confidence": None,
            "error_code": None,
            "error_message": None,
        }
        doc = by_pos.get(str(pos))
        if doc is None:
            out.append(
                {
                    **base,
                    "error_code": ERR_MISSING_RESULT,
                    "error_message": "no result for this document",
                    "classes": [],
                }
            )
        elif doc.error_code:
            out.append(
                {
                    **base,
                    "error_code": doc.error_code,
                    "error_message": doc.error_message,
                    "classes": [],
                    "characters": doc.characters,
                }
            )
        else:
            # Multi-label may legitimately return no class above the threshold: a result with no top class.
            top = max(doc.classes, key=lambda c: c.confidence) if doc.classes else None
            classes = [{"category": c.category, "confidence": c.confidence} for c in doc.classes]
            out.append(
                {
                    **base,
                    "category": top.category if top else None,
                    "confidence": top.confidence if top else None,
                    "classes": classes,
                    "characters": doc.characters,
                }
            )
    return out
