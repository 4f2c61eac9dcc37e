"""An in-memory `Sink` for the ledger writer and row builders, shared by the unit and integration tiers."""

from __future__ import annotations

import threading
from typing import Any

from ctc_spark.engine.ledger.protocol import JobRow, ResultRow


class MemorySink:
    """Records every write; `fail` makes the next writes raise it."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.jobs: list[JobRow] = []
        self.updates: list[JobRow] = []
        self.results: list[list[ResultRow]] = []
        self.frames: list[Any] = []
        self.fail = fail
        self.lock = threading.Lock()

    def append_jobs(self, rows: list[JobRow]) -> None:
        self._write(self.jobs.extend, rows)

    def update_jobs(self, rows: list[JobRow]) -> None:
        self._write(self.updates.extend, rows)

    def write_results(self, rows: list[ResultRow]) -> None:
        self._write(self.results.append, list(rows))

    def write_result_frame(self, frame: Any) -> None:
        self._write(self.frames.append, frame)

    def result_ids(self) -> list[str]:
        return [r["doc_id"] for write in self.results for r in write]

    def _write(self, add: Any, rows: Any) -> None:
        if self.fail is not None:
            raise self.fail
        with self.lock:
            add(rows)


def job_row(batch_id: str, *, job_id: str | None = "j", status: str = "submitted", attempts: int = 1) -> JobRow:
    return {
        "batch_id": batch_id,
        "resource": "r",
        "doc_ids": [f"{batch_id}-0"],
        "text_sha256s": ["s"],
        "n_chars": 10,
        "job_id": job_id,
        "operation_location": None,
        "submitted_at": 1.0e9,
        "expires_at": None,
        "status": status,
        "attempts": attempts,
        "last_error": None,
        "terminal": status != "submitted",
    }


def result_row(doc_id: str, *, category: str | None = "c", error_code: str | None = None) -> ResultRow:
    return {
        "doc_id": doc_id,
        "text_sha256": "s",
        "category": category,
        "confidence": 0.9 if category else None,
        "classes": [{"category": category, "confidence": 0.9}] if category else None,
        "error_code": error_code,
        "error_message": error_code,
        "job_id": "j",
    }
