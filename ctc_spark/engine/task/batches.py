"""A batch in a task's hands, and the rows the task reports for it to the ledger: pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ctc_spark.engine.ledger.protocol import CommittedJob, JobRow, ResultRow
from ctc_spark.engine.ledger.states import MISSING_RESULT

if TYPE_CHECKING:
    from ctc_spark.engine.task.protocol import BatchRow
    from ctc_spark.service.models import AnalyzeJob

__all__ = ["BatchState", "error_row", "from_row", "halves", "job_results", "job_row", "resumed_job"]

_JOB_TTL_SECONDS = 86400.0  # the service keeps a job's results for 24 hours


@dataclass
class BatchState:
    """A batch of documents and its current submission (none yet, or the job to poll)."""

    batch_id: str
    resource: str
    doc_ids: list[str]
    texts: list[str]
    sha256s: list[str]
    attempts: int = 0
    job_id: str | None = None
    operation_location: str | None = None
    submitted_at: float | None = None


def job_row(
    batch: BatchState,
    status: str,
    *,
    expires_at: float | None = None,
    last_error: str | None = None,
    terminal: bool = False,
) -> JobRow:
    """The batch's row in `jobs`: this submission and its state (a job's results expire after 24 hours)."""
    submitted = batch.submitted_at if batch.job_id else None
    return JobRow(
        batch_id=batch.batch_id,
        resource=batch.resource,
        doc_ids=batch.doc_ids,
        text_sha256s=batch.sha256s,
        n_chars=sum(len(t) for t in batch.texts),
        job_id=batch.job_id,
        operation_location=batch.operation_location,
        submitted_at=submitted,
        expires_at=expires_at if expires_at is not None else (submitted + _JOB_TTL_SECONDS if submitted else None),
        status=status,
        attempts=batch.attempts,
        last_error=last_error,
        terminal=terminal,
    )


def from_row(row: BatchRow) -> BatchState:
    """A batch of the plan as the task starts it."""
    texts = list(row["texts"] or [])
    return BatchState(
        row["batch_id"], row["resource"], list(row["doc_ids"]), texts, list(row["text_sha256s"]), row["attempts"] or 0
    )


def resumed_job(row: BatchRow) -> CommittedJob:
    """A resumed job of the plan (a `poll` row), as the ledger would answer for it."""
    return CommittedJob(
        job_id=row["job_id"],
        operation_location=row["operation_location"],
        attempts=row["attempts"] or 1,
        submitted_at=row["submitted_at"],
    )


def halves(batch: BatchState) -> list[BatchState]:
    """The two parts of a batch, new batches whose ids are the batch's with `.0` or `.1` appended."""
    mid = (len(batch.doc_ids) + 1) // 2
    return [
        BatchState(f"{batch.batch_id}.{i}", batch.resource, batch.doc_ids[s], batch.texts[s], batch.sha256s[s])
        for i, s in enumerate((slice(0, mid), slice(mid, None)))
    ]


def job_results(job: AnalyzeJob, batch: BatchState) -> list[ResultRow]:
    """One row per document of `batch` from its finished job; the positional ids sent map back to its doc ids.

    A document the service did not mention gets a `MissingResult` error row, so nothing is silently lost.
    """
    by_pos = {d.id: d for d in job.documents}
    out: list[ResultRow] = []
    for pos, (doc_id, sha) in enumerate(zip(batch.doc_ids, batch.sha256s, strict=True)):
        doc = by_pos.get(str(pos))
        if doc is None:
            out.append(error_row(doc_id, sha, MISSING_RESULT, "no result for this document", job.job_id))
        elif doc.error_code:
            out.append(error_row(doc_id, sha, doc.error_code, doc.error_message or doc.error_code, job.job_id))
        else:
            # Multi-label may legitimately return no class above the threshold: a result with no top class.
            top = max(doc.classes, key=lambda c: c.confidence) if doc.classes else None
            out.append(
                ResultRow(
                    doc_id=doc_id,
                    text_sha256=sha,
                    category=top.category if top else None,
                    confidence=top.confidence if top else None,
                    classes=[{"category": c.category, "confidence": c.confidence} for c in doc.classes],
                    error_code=None,
                    error_message=None,
                    job_id=job.job_id,
                )
            )
    return out


def error_row(doc_id: str, sha256: str, code: str, message: str, job_id: str | None) -> ResultRow:
    """A document's error outcome."""
    return ResultRow(
        doc_id=doc_id,
        text_sha256=sha256,
        category=None,
        confidence=None,
        classes=None,
        error_code=code,
        error_message=message[:1000],
        job_id=job_id,
    )
