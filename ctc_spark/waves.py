"""The pipelined wave loop: each Spark stage submits wave k+1 while it polls wave k; commits happen in between.

Stage s runs on executors: it submits the batches of wave s and polls the jobs committed after stage s-1.
Between stages the driver MERGEs every job row of the stage into `jobs` (so wave s's job ids are committed
before anything waits for them) and hands the polled documents to a background thread that MERGEs them into
`results` while the next stage already uses the quota. A crash therefore redoes at most the wave in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from ctc_spark import ledger
from ctc_spark.errors import CTCError
from ctc_spark.executor import ACTION_SCHEMA, STAGE_SCHEMA, ExecutorPlan, stage_partition
from ctc_spark.tables import merge_rows

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame

    from ctc_spark.classify import _Run

__all__ = ["WaveRunner", "next_latency"]

log = logging.getLogger(__name__)

_JOB_FIELDS = [f.name for f in ledger.JOBS_SCHEMA.fields]
_DOC_COLS = ["doc_id", "text_sha256", "category", "confidence", "classes", "error_code", "error_message", "job_id"]


def next_latency(observed: Sequence[float], previous: float) -> float:
    """The first-poll delay to use next: the 90th percentile of observed job latencies plus a small margin."""
    values = sorted(v for v in observed if v is not None and v >= 0)
    if not values:
        return previous
    return values[min(len(values) - 1, int(len(values) * 0.9))] + 0.25


class WaveRunner:
    """Drives stages until every batch has a terminal outcome, committing between stages."""

    def __init__(
        self, run: _Run, docs: DataFrame, batches: DataFrame, plan: ExecutorPlan, total: int, wave_jobs: int
    ) -> None:
        self.ctx = run
        self.spark: Any = run.spark
        self.docs = docs
        self.batches = batches
        self.plan = plan
        self.total = total
        self.wave_jobs = max(1, wave_jobs)
        self.done = 0
        self.attempts: dict[str, int] = {}
        self.tasks = max(1, int(run.spark.sparkContext.defaultParallelism))  # type: ignore[attr-defined]
        self.started = time.monotonic()
        self._merge_thread: threading.Thread | None = None
        self._merge_error: BaseException | None = None

    def run(self, new_ids: Sequence[str], resumed: Sequence[dict[str, Any]]) -> None:
        """Submit `new_ids`, poll `resumed` committed jobs, and retry failures until nothing is left."""
        to_poll = [_epochs(r) for r in resumed]
        for r in resumed:
            self.attempts[r["batch_id"]] = int(r.get("attempts") or 1)
        queue: deque[str] = deque(new_ids)
        retry: list[dict[str, Any]] = []
        self.started = time.monotonic()
        try:
            while queue or retry or to_poll:
                again = retry[: self.wave_jobs]
                retry = retry[self.wave_jobs :]
                take = self.wave_jobs - len(again)
                if len(queue) - take < self.wave_jobs // 10:
                    take = len(queue)  # a small remainder rides along instead of costing a stage of its own
                fresh = [queue.popleft() for _ in range(max(0, min(len(queue), take)))]
                self.ctx.summary.waves += 1 if (fresh or again) else 0
                self.ctx.summary.resubmitted_batches += len(again)
                to_poll, more = self._stage(fresh, again, to_poll)
                retry += more
        finally:
            self._join_merge()
            self.ctx.summary.service_seconds = time.monotonic() - self.started

    # -- one stage ----------------------------------------------------------------------------------
    def _stage(
        self, fresh: list[str], again: list[dict[str, Any]], to_poll: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        t0 = time.monotonic()
        table = self._execute(fresh, again, to_poll)
        t1 = time.monotonic()
        kinds = table.column("row_type").to_pylist()
        rows = table.select(
            ["row_type", "batch_id", "status", "job_id", "operation_location", "submitted_at", "expires_at",
             "last_error", "latency", "resource", "doc_ids", "text_sha256s", "submits", "polls", "retries",
             "throttled"]
        ).filter(_mask(kinds, {"job", "stats"})).to_pylist()  # fmt: skip
        jobs = [r for r in rows if r["row_type"] == "job"]
        s = self.ctx.summary
        for r in rows:
            if r["row_type"] == "stats":
                s.submits += int(r["submits"] or 0)
                s.polls += int(r["polls"] or 0)
                s.retries += int(r["retries"] or 0)
                s.throttled += int(r["throttled"] or 0)
        submitted_ids = set(fresh) | {r["batch_id"] for r in again}
        for j in jobs:
            if j["batch_id"] in submitted_ids:
                self.attempts[j["batch_id"]] = self.attempts.get(j["batch_id"], 0) + 1
        self._merge_jobs(jobs)  # the commit: wave k+1's job ids are durable before anything polls them
        log.info("stage: %d submits, %d polls ran in %.1fs; jobs committed in %.1fs", len(fresh) + len(again),
                 len(to_poll), t1 - t0, time.monotonic() - t1)  # fmt: skip
        fatal = [j for j in jobs if j["status"] == "fatal"]
        if fatal:
            raise CTCError(f"the service refused the run: {fatal[0]['last_error']}")
        latencies = [j["latency"] for j in jobs if j["status"] == "succeeded"]
        self.plan = replace(self.plan, expected_latency=next_latency(latencies, self.plan.expected_latency))
        next_poll: list[dict[str, Any]] = []
        retry: list[dict[str, Any]] = []
        terminal: list[dict[str, Any]] = []
        route = {"poll": next_poll, "retry": retry, "error": terminal}
        for j in jobs:
            step = ledger.next_status(j["status"], self.attempts.get(j["batch_id"], 1))
            if step in route:
                route[step].append(j)
        docs = table.filter(_mask(kinds, {"doc"})).select(_DOC_COLS)
        self._merge_docs_async(docs, terminal)
        self.done += docs.num_rows + sum(len(j["doc_ids"]) for j in terminal)
        self._report()
        return next_poll, retry

    def _execute(self, fresh: list[str], again: list[dict[str, Any]], to_poll: list[dict[str, Any]]) -> pa.Table:
        """Run the stage once on executors and bring its rows back (collected, so side effects run once)."""
        from pyspark.sql import functions as F

        parts: list[DataFrame] = []
        submit_cols: list[Any] = [
            F.lit("submit").alias("action"), "batch_id", "resource", "doc_ids", "texts", "text_sha256s",
            F.lit(None).cast("string").alias("job_id"), F.lit(None).cast("string").alias("operation_location"),
            F.lit(None).cast("double").alias("submitted_at"),
        ]  # fmt: skip
        if fresh:
            parts.append(self.batches.filter(F.col("batch_id").isin(fresh)).select(*submit_cols))
        if again:
            parts.append(self._rebuild(again).select(*submit_cols))
        if to_poll:
            polls = [("poll", r["batch_id"], r["resource"], list(r["doc_ids"]), None, list(r["text_sha256s"]),
                      r["job_id"], r["operation_location"], r["submitted_at"]) for r in to_poll]  # fmt: skip
            parts.append(self.spark.createDataFrame(polls, ACTION_SCHEMA))
        frame = parts[0]
        for p in parts[1:]:
            frame = frame.unionByName(p)
        body = partial(stage_partition, self.plan)
        return frame.repartition(self.tasks).mapInArrow(body, STAGE_SCHEMA).toArrow()

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
        rebuilt: DataFrame = grouped.select(
            "batch_id",
            "resource",
            F.col("d.doc_id").alias("doc_ids"),
            F.col("d.text").alias("texts"),
            F.col("d.text_sha256").alias("text_sha256s"),
        )
        return rebuilt

    # -- commits ------------------------------------------------------------------------------------
    def _merge_jobs(self, jobs: list[dict[str, Any]]) -> None:
        if not jobs:
            return
        now = datetime.now(timezone.utc)
        s = self.ctx.summary
        rows = [
            {"batch_id": j["batch_id"], "run_id": s.run_id, "project_name": self.ctx.project,
             "deployment_name": self.ctx.deployment, "kind": self.ctx.kind, "doc_ids": list(j["doc_ids"]),
             "text_sha256s": list(j["text_sha256s"]), "n_chars": None, "resource": j["resource"],
             "job_id": j["job_id"], "operation_location": j["operation_location"],
             "submitted_at": _ts(j["submitted_at"]), "expires_at": _ts(j["expires_at"]),
             "status": "submitted" if j["status"] == "open" else j["status"],
             "attempts": self.attempts.get(j["batch_id"], 1), "last_error": j["last_error"], "updated_at": now}
            for j in jobs
        ]  # fmt: skip
        frame = self.spark.createDataFrame([[r[k] for k in _JOB_FIELDS] for r in rows], ledger.JOBS_SCHEMA)
        merge_rows(self.spark, self.ctx.tables, ledger.JOBS, frame, ["batch_id"])

    def _merge_docs_async(self, docs: pa.Table, terminal: list[dict[str, Any]]) -> None:
        """MERGE this stage's documents in the background; the next stage runs meanwhile."""
        self._join_merge()
        errors = [
            (doc_id, sha, ledger.TERMINAL_ERRORS.get(j["status"], "JobFailed"), (j["last_error"] or "")[:1000],
             j["job_id"])
            for j in terminal
            for doc_id, sha in zip(j["doc_ids"], j["text_sha256s"], strict=True)
        ]  # fmt: skip
        if docs.num_rows == 0 and not errors:
            return

        def work() -> None:
            from ctc_spark.classify import _merge_results

            try:
                frames = []
                if docs.num_rows:
                    frames.append(self.spark.createDataFrame(docs))
                if errors:
                    frames.append(self.spark.createDataFrame(
                        errors, "doc_id STRING, text_sha256 STRING, error_code STRING, error_message STRING, "
                        "job_id STRING"))  # fmt: skip
                frame = frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1], allowMissingColumns=True)
                _merge_results(self.ctx, frame, job_id=None)
            except BaseException as exc:  # re-raised on the driver's thread by _join_merge
                self._merge_error = exc

        self._merge_thread = threading.Thread(target=work, name="ctc-results-merge", daemon=True)
        self._merge_thread.start()

    def _join_merge(self) -> None:
        if self._merge_thread is not None:
            self._merge_thread.join()
            self._merge_thread = None
        if self._merge_error is not None:
            err, self._merge_error = self._merge_error, None
            raise err

    def _report(self) -> None:
        elapsed = max(1e-6, time.monotonic() - self.started)
        rate = self.done / elapsed * 60
        s = self.ctx.summary
        self.ctx.progress(
            f"classified {self.done}/{self.total} documents ({rate:,.0f} docs/min); "
            f"calls: {s.submits} submits, {s.polls} polls, {s.throttled} throttled, {s.retries} retries"
        )


def _mask(kinds: list[str | None], wanted: set[str]) -> Any:
    import pyarrow as pa

    return pa.array([k in wanted for k in kinds])


def _ts(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)


def _epochs(row: dict[str, Any]) -> dict[str, Any]:
    """A ledger row with its timestamps as epoch seconds, as the stage's action rows carry them."""
    out = dict(row)
    for key in ("submitted_at", "expires_at"):
        value = out.get(key)
        out[key] = value.timestamp() if isinstance(value, datetime) else value
    return out
