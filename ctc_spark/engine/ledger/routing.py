"""Which result rows a write appends and which it MERGEs: pure, the one place that decides it.

A nightly run's documents are mostly new: they have no row in `results` yet, and appending theirs costs the
batch, whatever the table's history (a MERGE reads every file of the deployment that may hold a match). A row
replaces an earlier one only for a document that had a row before the run (a retried error, a changed text, a
new model: the plan marks these, `has_row`) or that this run already wrote (a task attempt reporting a batch
again). Those rows are MERGEd, with predicates that prune to the deployment and the documents.

The run's written documents are kept as 64-bit hashes in a sorted array (`HashSet`: measured 9.6 bytes each, 96 MB
for a 10M-document run, where a Python set took 73); a collision only sends a fresh row down the
MERGE path, which is always correct.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ctc_spark.engine.ledger.protocol import ResultRow

__all__ = ["MAX_KNOWN_ROWS", "HashSet", "ResultRouting"]

# Above this many pending documents with an earlier row (a new model re-classifying a whole deployment, say),
# the plan does not collect their ids and every write is a MERGE: such a run rewrites the deployment anyway.
MAX_KNOWN_ROWS = 200_000


class HashSet:
    """A set of 64-bit ints in about 8 bytes each: a sorted array, and the latest additions in a small Python set
    merged into it when it reaches `buffer` entries. Not thread-safe."""

    def __init__(self, buffer: int = 65_536) -> None:
        self._sorted = np.empty(0, dtype=np.int64)
        self._recent: set[int] = set()
        self._buffer = buffer

    def __len__(self) -> int:
        return int(self._sorted.size) + len(self._recent)

    @property
    def nbytes(self) -> int:
        """The array's bytes plus about 60 for each entry not merged into it yet."""
        return int(self._sorted.nbytes) + 60 * len(self._recent)

    def update(self, keys: Iterable[int]) -> None:
        self._recent.update(keys)
        if len(self._recent) >= self._buffer:
            fresh = np.sort(np.fromiter(self._recent, dtype=np.int64, count=len(self._recent)))
            fresh = fresh[~self._found(fresh)]  # a document reported again is in the array already
            # One linear pass: each new key goes in at its place (no re-sort of the whole array).
            self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, fresh), fresh)
            self._recent = set()

    def _found(self, wanted: np.ndarray) -> np.ndarray:
        """A mask of which of `wanted` are in the sorted array."""
        if not self._sorted.size:
            return np.zeros(wanted.size, dtype=bool)
        at = np.minimum(np.searchsorted(self._sorted, wanted), self._sorted.size - 1)
        return np.asarray(self._sorted[at] == wanted)

    def contains(self, keys: Sequence[int]) -> list[bool]:
        """Whether each of `keys` is in the set, in their order."""
        found = self._found(np.fromiter(keys, dtype=np.int64, count=len(keys)))
        return [bool(f) or k in self._recent for f, k in zip(found.tolist(), keys, strict=True)]


class ResultRouting:
    """Splits each write's rows into those to append and those to MERGE.

    `existing`: the ids of the run's documents that had a `results` row before it, or None when unknown (every
    write is then a MERGE, the behaviour of a sink built without a plan). Not thread-safe: the ledger's results
    thread is its only caller.
    """

    def __init__(self, existing: Iterable[str] | None) -> None:
        self._existing = None if existing is None else {hash(d) for d in existing}
        self._written = HashSet()

    def __repr__(self) -> str:
        known = "unknown" if self._existing is None else len(self._existing)
        return f"ResultRouting(existing={known}, written={len(self._written)})"

    @property
    def appends(self) -> bool:
        """False when every write must be a MERGE (the earlier rows are not known)."""
        return self._existing is not None

    def split(self, rows: Sequence[ResultRow]) -> tuple[list[ResultRow], list[ResultRow]]:
        """(rows to append, rows to MERGE): a document with no row before the run and none written by it yet is
        appended; any other is MERGEd. `rows` hold one row per document (`writer.dedupe_results`)."""
        if self._existing is None:
            return [], list(rows)
        fresh: list[ResultRow] = []
        replace: list[ResultRow] = []
        keys = [hash(row["doc_id"]) for row in rows]
        for row, key, written in zip(rows, keys, self._written.contains(keys), strict=True):
            (replace if written or key in self._existing else fresh).append(row)
        return fresh, replace

    def wrote(self, doc_ids: Iterable[str]) -> None:
        """Record documents whose rows are now in the table: any later row for them replaces it."""
        self._written.update(hash(d) for d in doc_ids)
