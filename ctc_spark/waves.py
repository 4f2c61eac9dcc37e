"""The wave loop: submit a wave from executors, commit its job ids, poll them, merge results, retry failures."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from ctc_spark import ledger
from ctc_spark.errors import CTCError
from ctc_spark.executor import POLL_SCHEMA, SUBMIT_SCHEMA, ExecutorPlan, poll_partition, submit_partition
from ctc_spark.tables import merge_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ctc_spark.classify import _Run

__all__ = ["WaveRunner"]

_JOB_FIELDS = [f.name for f in ledger.JOBS_SCHEMA.fields]
_TERMINAL_ERRORS = {"rejected": "RequestRejected", "failed": "JobFailed", "expired": "JobExpired",
                    "unknown": "SubmitOutcomeUnknown"}  # fmt: skip


class WaveRunner:
    """Drives waves of at most `batch.wave_jobs` jobs until every batch has a terminal outcome."""

    def __init__(self, run: _Run, docs: DataFrame, batches: DataFrame, plan: ExecutorPlan, total: int) -> None:
        self.run = run
        self.spark: Any = run.spark
        self.docs = docs
        self.batches = batches
        self.plan = plan
        self.total = total
        self.done = 0
        self.attempts: dict[str, int] = {}
        self.tasks = max(1, self.spark.sparkContext.defaultParallelism)
        self.started = time.monotonic()

    def run(self, new_ids: Sequence[str], resumed: Sequence[dict[str, Any]]) -> None:
        retry: list[dict[str, Any]] = []
        if resumed:
            for row in resumed:
                self.attempts[row["batch_id"]] = int(row.get("attempts") or 1)
            retry = self._poll_and_merge(list(resumed))
        queue = list(new_ids)
        size = self.run.settings.batch.wave_jobs
        while queue or retry:
            self.run.summary.waves += 1
            again, retry = retry[:size], retry[size:]
            fresh, queue = queue[: size - len(again)], queue[size - len(again) :]
            self.run.summary.resubmitted_batches += len(again)
            committed = self._submit(fresh, again)
            retry += self._poll_and_merge(committed)

    # -- submit -------------------------------------------------------------------------------------
    def _submit(self, fresh: list[str], again: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from pyspark.sql import functions as F

        parts: list[DataFrame] = []
        if fresh:
            parts.append(self.batches.filter(F.col("batch_id").isin(fresh)))
        if again:
            parts.append(self._rebuild(again))
        wave = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
        body = partial(submit_partition, self.plan)
        out = [r.asDict() for r in wave.repartition(self.tasks).mapInPandas(body, SUBMIT_SCHEMA).collect()]
        meta = {r.batch_id: r.asDict() for r in wave.drop("texts").collect()}
        s = self.run.summary
        s.submits += sum(int(r["submits"] or 0) for r in out)
        s.retries += sum(int(r["retries"] or 0) for r in out)
        s.throttled += sum(int(r["throttled"] or 0) for r in out)
        now = datetime.now(timezone.utc)
        rows = []
        for r in out:
            m = meta[r["batch_id"]]
            self.attempts[r["batch_id"]] = self.attempts.get(r["batch_id"], 0) + 1
            rows.append(self._job_row(m, r, now))
        self._merge_jobs(rows)  # committed before any result is awaited
        fatal = [r for r in rows if r["status"] == "fatal"]
        if fatal:
            raise CTCError(f"the service refused the request: {fatal[0]['last_error']}")
        return rows

    def _job_row(self, meta: dict[str, Any], out: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {
            "batch_id": meta["batch_id"], "run_id": self.run.summary.run_id, "project_name": self.run.project,
            "deployment_name": self.run.deployment, "kind": self.run.kind, "doc_ids": list(meta["doc_ids"]),
            "text_sha256s": list(meta["text_sha256s"]), "n_chars": meta["n_chars"], "resource": meta["resource"],
            "job_id": out.get("job_id"), "operation_location": out.get("operation_location"),
            "submitted_at": out.get("submitted_at"), "expires_at": out.get("expires_at"), "status": out["status"],
            "attempts": self.attempts[meta["batch_id"]], "last_error": out.get("last_error"), "updated_at": now,
        }  # fmt: skip

    def _rebuild(self, rows: list[dict[str, Any]]) -> DataFrame:
        """Batches to resubmit, with their texts fetched back from the input by document id."""
        from pyspark.sql import functions as F

        meta = self.spark.createDataFrame(
            [(r["batch_id"], list(r["doc_ids"]), r["resource"]) for r in rows],
            "batch_id STRING, doc_ids ARRAY<STRING>, resource STRING",
        )
        exploded = meta.select("batch_id", "resource", F.posexplode("doc_ids").alias("pos", "doc_id"))
        joined = exploded.join(self.docs, "doc_id")
        grouped = joined.groupBy("batch_id", "resource").agg(
            F.sort_array(F.collect_list(F.struct("pos", "doc_id", "text", "text_sha256"))).alias("d")
        )
        return grouped.select(
            "batch_id",
            F.col("d.doc_id").alias("doc_ids"),
            F.col("d.text").alias("texts"),
            F.col("d.text_sha256").alias("text_sha256s"),
            F.aggregate(F.col("d.text"), F.lit(0).cast("long"), lambda acc, t: acc + F.length(t)).alias("n_chars"),
            "resource",
        )

    # -- poll ---------------------------------------------------------------------------------------
    def _poll_and_merge(self, committed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Poll the committed jobs, merge their documents, and return the batches to submit again."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        retry: list[dict[str, Any]] = []
        to_poll = [r for r in committed if r["status"] == ledger.OPEN]
        finished = [r for r in committed if r["status"] != ledger.OPEN]
        statuses: dict[str, tuple[str, str | None]] = {}
        if to_poll:
            frame = self.spark.createDataFrame([{k: r[k] for k in _JOB_FIELDS} for r in to_poll], ledger.JOBS_SCHEMA)
            body = partial(poll_partition, self.plan)
            polled = frame.repartition(self.tasks).mapInPandas(body, POLL_SCHEMA).persist(StorageLevel.MEMORY_AND_DISK)
            agg = polled.agg(F.sum("polls"), F.sum("retries"), F.sum("throttled")).first()
            s = self.run.summary
            s.polls += int(agg[0] or 0)
            s.retries += int(agg[1] or 0)
            s.throttled += int(agg[2] or 0)
            ok = polled.filter(F.col("job_status") == "succeeded")
            self.run_merge_results(ok)
            for r in polled.groupBy("batch_id", "job_status", "job_error").count().collect():
                statuses[r.batch_id] = (r.job_status, r.job_error)
            polled.unpersist()
        now = datetime.now(timezone.utc)
        updates, terminal_errors = [], []
        for row in to_poll:
            status, error = statuses.get(row["batch_id"], ("expired", "no poll result"))
            status = ledger.OPEN if status == "open" else status
            updates.append({**row, "status": status, "last_error": error, "updated_at": now})
        for row in finished + [u for u in updates if u["status"] in ("failed", "expired")]:
            if row["status"] != "rejected" and self.attempts.get(row["batch_id"], 1) < ledger.MAX_ATTEMPTS:
                retry.append(row)
            else:
                terminal_errors.append(row)
        self._merge_jobs(updates)
        self._error_rows(terminal_errors)
        self._report()
        return retry

    def run_merge_results(self, ok: DataFrame) -> None:
        from ctc_spark.classify import _merge_results

        _merge_results(self.run, ok.select("doc_id", "text_sha256", "category", "confidence", "classes",
                                           "error_code", "error_message", "job_id"), job_id=None)  # fmt: skip
        self.done += ok.count()

    def _error_rows(self, rows: list[dict[str, Any]]) -> None:
        """Documents of batches that ran out of attempts (or were rejected) get error rows, never a gap."""
        if not rows:
            return
        from ctc_spark.classify import _merge_results

        flat = [
            (doc_id, sha, _TERMINAL_ERRORS.get(r["status"], "JobFailed"), (r.get("last_error") or "")[:1000],
             r.get("job_id"))
            for r in rows
            for doc_id, sha in zip(r["doc_ids"], r["text_sha256s"], strict=True)
        ]  # fmt: skip
        frame = self.spark.createDataFrame(
            flat, "doc_id STRING, text_sha256 STRING, error_code STRING, error_message STRING, job_id STRING"
        )
        _merge_results(self.run, frame, job_id=None)
        self.done += len(flat)

    def _merge_jobs(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            frame = self.spark.createDataFrame([{k: r[k] for k in _JOB_FIELDS} for r in rows], ledger.JOBS_SCHEMA)
            merge_rows(self.spark, self.run.tables, ledger.JOBS, frame, ["batch_id"])

    def _report(self) -> None:
        elapsed = max(1e-6, time.monotonic() - self.started)
        rate = self.done / elapsed * 60
        s = self.run.summary
        self.run.progress(
            f"classified {self.done}/{self.total} documents ({rate:,.0f} docs/min); "
            f"calls: {s.submits} submits, {s.polls} polls, {s.throttled} throttled, {s.retries} retries"
        )
