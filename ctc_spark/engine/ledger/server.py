"""The driver's end of a run: an HTTP endpoint for executors, a committer for `jobs`, a writer for `results`.

Executors POST the jobs they have just submitted to `/commit`; the committer thread appends them to `jobs`
in one Delta transaction with whatever else arrived meanwhile (group commit) and only then answers, so a
job is durable before anyone waits for it. Results and job states POSTed to `/events` are MERGEd by a
second thread while the run goes on: results into `results` continuously, job states into `jobs` every
`status_seconds` and at the end. Both threads are the only writers of their tables during a run, so their
transactions never conflict. The first failure is kept, refused to every later request (which fails the
executors' tasks) and raised by `close()`.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from ctc_spark.config import Secret
from ctc_spark.engine.ledger import tables as ledger
from ctc_spark.engine.ledger.client import TOKEN_HEADER
from ctc_spark.engine.ledger.heap import trim_heap
from ctc_spark.errors import LedgerError
from ctc_spark.io.tables import TableLocation, append_rows, merge_rows
from ctc_spark.service.vocabulary import JobStatus

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["LedgerService", "RunTarget", "merge_results"]

log = logging.getLogger(__name__)

_JOB_FIELDS = [f.name for f in ledger.JOBS_SCHEMA.fields]
_STATUS_COLUMNS = ("status", "expires_at", "attempts", "last_error", "updated_at")
_COMMIT_TIMEOUT = 900.0


@dataclass(frozen=True)
class RunTarget:
    """What every row of a run carries as lineage."""

    run_id: str
    project: str
    deployment: str
    kind: str
    api_version: str
    model_label: str | None = None
    model_id: str | None = None


@dataclass
class _Waiter:
    rows: list[dict[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class LedgerService:
    """Started before the run's Spark job and closed after it; see the module docstring."""

    def __init__(
        self,
        spark: SparkSession,
        tables: TableLocation,
        target: RunTarget,
        *,
        host: str = "127.0.0.1",
        bind: str | None = None,
        commit_seconds: float = 2.0,
        results_seconds: float = 10.0,
        status_seconds: float = 30.0,
    ) -> None:
        self.spark = spark
        self.tables = tables
        self.target = target
        self.host = host  # the address in executors' URL
        self.bind = bind or host  # the interface the server listens on
        # Each Delta commit costs the driver a fixed amount of work whatever its size, so commits are grouped:
        # at most one per `commit_seconds` (a job waits that long before it may be polled, while the task
        # keeps submitting), results at most every `results_seconds`, job states every `status_seconds`.
        self.commit_seconds = commit_seconds
        self.results_seconds = results_seconds
        self.status_seconds = status_seconds
        self.token = Secret(secrets.token_urlsafe(24))
        self.abort: str | None = None  # a fatal service error: every task stops
        self.failure: BaseException | None = None
        self.received_docs = 0
        self.expected_docs: int | None = None  # when every expected result has arrived, write it at once
        self.merged_docs = 0
        self.committed_jobs = 0
        self.commits = 0
        self.results_committed_at: float | None = None
        self._lock = threading.Lock()
        self._jobs_cond = threading.Condition(self._lock)
        self._results_cond = threading.Condition(self._lock)
        self._commits: list[_Waiter] = []
        self._statuses: dict[tuple[str, str], dict[str, Any]] = {}
        self._docs: list[dict[str, Any]] = []
        self._frames: list[DataFrame] = []
        self._committed: dict[str, dict[str, Any]] = {}
        self._finished: set[str] = set()
        self._stopping = False
        self._results_done = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        return f"LedgerService(url={self.url!r}, run_id={self.target.run_id!r})"

    @property
    def url(self) -> str:
        port = self._server.server_address[1] if self._server else 0
        return f"http://{self.host}:{port}"

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self, *, serve: bool = True, before_jobs: Callable[[], object] | None = None) -> LedgerService:
        """Start the writers and, unless `serve` is false (the driver engine calls `handle` itself), the endpoint.

        `before_jobs` runs (in the jobs writer) before the first job id is committed; the run passes the wait for
        its `runs` row, which names the model a resumed run attributes the committed jobs to. If it raises, the
        service fails as if a commit had.
        """

        def jobs_loop() -> None:
            if before_jobs is not None:
                before_jobs()
            self._jobs_loop()

        self._threads = [
            threading.Thread(target=self._guard(jobs_loop), name="ctc-ledger-jobs", daemon=True),
            threading.Thread(target=self._guard(self._results_loop), name="ctc-ledger-results", daemon=True),
        ]
        if serve:
            server = ThreadingHTTPServer((self.bind, 0), _Handler)
            server.daemon_threads = True
            server.ledger = self  # type: ignore[attr-defined]
            self._server = server
            self._threads.append(threading.Thread(target=server.serve_forever, name="ctc-ledger-http", daemon=True))
        for t in self._threads:
            t.start()
        return self

    def close(self) -> None:
        """Stop accepting and write every pending result; job states may still be committing (`join`).

        Raises:
            LedgerError: a commit or a write failed during the run (the original error is chained).
        """
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            self._stopping = True
            self._jobs_cond.notify_all()
            self._results_cond.notify_all()
        self._threads[1].join()
        self._raise_failure()

    def join(self) -> None:
        """Wait for the last job states to be committed to `jobs` (after `close`).

        Raises:
            LedgerError: as for `close`.
        """
        self._threads[0].join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise LedgerError(f"the ledger failed: {type(self.failure).__name__}: {self.failure}") from self.failure

    def write_results(self, frame: DataFrame) -> None:
        """Queue a DataFrame of result rows (for example pre-validation errors) for the results writer."""
        with self._lock:
            self._frames.append(frame)
            self._results_cond.notify_all()

    # -- requests (HTTP handler threads) ------------------------------------------------------------
    def handle(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Serve one executor request.

        Raises:
            LedgerError: the ledger has failed, or the commit did not finish in time.
            KeyError: an unknown path.
        """
        if self.failure is not None:
            raise LedgerError(f"the ledger failed earlier: {self.failure}")
        if path == "/commit":
            self._commit([_job_fields(j) for j in body["jobs"]])
        elif path == "/events":
            self._events(body.get("docs") or [], body.get("jobs") or [])
        elif path == "/lookup":
            return self._lookup(body["batch_ids"])
        else:
            raise KeyError(path)
        return {"abort": self.abort}

    def _commit(self, jobs: list[dict[str, Any]]) -> None:
        waiter = _Waiter(jobs)
        with self._lock:
            self._commits.append(waiter)
            self._jobs_cond.notify_all()
        if not waiter.done.wait(_COMMIT_TIMEOUT):
            raise LedgerError(f"committing {len(jobs)} job ids took over {_COMMIT_TIMEOUT:.0f}s")
        if waiter.error is not None:
            raise LedgerError(f"committing {len(jobs)} job ids failed: {waiter.error}")

    def _events(self, docs: list[dict[str, Any]], jobs: list[dict[str, Any]]) -> None:
        with self._lock:
            self._docs.extend(docs)
            self.received_docs += len(docs)
            self._jobs_cond.notify_all()  # wakes a paused writer when this completes the expected results
            for j in jobs:
                key = (j["batch_id"], j.get("job_id") or f"attempt-{j.get('attempts')}-{j['status']}")
                self._statuses[key] = _job_fields(j)
                if j.get("terminal"):
                    self._finished.add(j["batch_id"])
                if j["status"] == JobStatus.FATAL and self.abort is None:
                    self.abort = str(j.get("last_error") or "the service refused the run")
            if docs:
                self._results_cond.notify_all()

    def _lookup(self, batch_ids: list[str]) -> dict[str, Any]:
        with self._lock:
            finished = [b for b in batch_ids if b in self._finished]
            jobs = {b: self._committed[b] for b in batch_ids if b in self._committed and b not in self._finished}
        return {"finished": finished, "jobs": jobs, "abort": self.abort}

    # -- writers (one thread per table) ---------------------------------------------------------------
    def _guard(self, loop: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                loop()
            except BaseException as exc:  # kept, refused to executors, raised by close()
                log.error("ledger writer failed: %s: %s", type(exc).__name__, exc)
                with self._lock:
                    self.failure = self.failure or exc
                    waiting, self._commits = self._commits, []
                for w in waiting:
                    w.error = f"{type(exc).__name__}: {exc}"
                    w.done.set()

        return run

    def _jobs_loop(self) -> None:
        last_status = last_commit = time.monotonic()
        while True:
            self._pause(last_commit, self.commit_seconds)
            with self._lock:
                while not (self._commits or self._stopping or (self._statuses and self._status_due(last_status))):
                    self._jobs_cond.wait(timeout=1.0)
                waiters, self._commits = self._commits, []
                statuses: list[dict[str, Any]] = []
                if (self._stopping and not waiters) or (self._statuses and self._status_due(last_status)):
                    statuses, self._statuses = list(self._statuses.values()), {}
                stop = self._stopping and not waiters
            if waiters:
                last_commit = time.monotonic()
                self._append_jobs(waiters)
            if stop:
                self._results_done.wait()  # the last results first: they end the run's classify phase
            if statuses:
                self._merge_statuses(statuses)
                last_status = time.monotonic()
            if stop:
                return

    def _status_due(self, last: float) -> bool:
        return time.monotonic() - last >= self.status_seconds

    def _append_jobs(self, waiters: list[_Waiter]) -> None:
        rows = [r for w in waiters for r in w.rows]
        try:
            append_rows(self.spark, self.tables, ledger.JOBS, self._jobs_frame(rows))
        except BaseException as exc:
            for w in waiters:
                w.error = f"{type(exc).__name__}: {exc}"
                w.done.set()
            raise
        with self._lock:
            for r in rows:
                self._committed[r["batch_id"]] = {k: r[k] for k in ("job_id", "operation_location", "attempts")} | {
                    "submitted_at": r["submitted_at"].timestamp() if r["submitted_at"] else None
                }
            self.committed_jobs += len(rows)
            self.commits += 1
        for w in waiters:
            w.done.set()

    def _merge_statuses(self, rows: list[dict[str, Any]]) -> None:
        # A job's row is keyed by (batch_id, job_id); attempts that never got a job id are inserted as they are.
        merge_rows(
            self.spark,
            self.tables,
            ledger.JOBS,
            self._jobs_frame(rows),
            ["batch_id", "job_id"],
            null_safe=False,
            update_columns=_STATUS_COLUMNS,
        )

    def _jobs_frame(self, rows: list[dict[str, Any]]) -> DataFrame:
        now = datetime.now(timezone.utc)
        t = self.target
        values = [
            {
                **r,
                "run_id": t.run_id,
                "project_name": t.project,
                "deployment_name": t.deployment,
                "kind": t.kind,
                "updated_at": now,
            }
            for r in rows
        ]
        return self.spark.createDataFrame([[v.get(k) for k in _JOB_FIELDS] for v in values], ledger.JOBS_SCHEMA)

    def _pause(self, last: float, interval: float) -> None:
        """Wait until `interval` after `last`, unless stopping or every expected result is in (write at once)."""
        with self._lock:
            while not self._stopping and (left := last + interval - time.monotonic()) > 0:
                if self.expected_docs is not None and self.received_docs >= self.expected_docs:
                    return
                self._jobs_cond.wait(timeout=left)

    def _results_loop(self) -> None:
        try:
            self._write_results()
        finally:
            self._results_done.set()

    def _write_results(self) -> None:
        last = time.monotonic()
        while True:
            self._pause(last, self.results_seconds)
            with self._lock:
                while not (self._docs or self._frames or self._stopping):
                    self._results_cond.wait(timeout=1.0)
                docs, self._docs = self._docs, []
                frames, self._frames = self._frames, []
                stop = self._stopping and not docs and not frames
            if stop:
                return
            last = time.monotonic()
            for frame in frames:
                merge_results(self.spark, self.tables, frame, self.target)
            if docs:
                merge_results(self.spark, self.tables, self._docs_frame(docs), self.target)
            with self._lock:
                self.merged_docs += len(docs)
                self.results_committed_at = time.time()  # epoch, comparable with executors' first call
            del docs, frames
            trim_heap()

    def _docs_frame(self, docs: list[dict[str, Any]]) -> DataFrame:
        import pyarrow as pa

        s, d = pa.string(), pa.float64()
        schema = pa.schema(
            [
                ("doc_id", s),
                ("text_sha256", s),
                ("category", s),
                ("confidence", d),
                ("classes", pa.list_(pa.struct([("category", s), ("confidence", d)]))),
                ("error_code", s),
                ("error_message", s),
                ("job_id", s),
            ]
        )
        return self.spark.createDataFrame(pa.Table.from_pylist(docs, schema=schema))


def _job_fields(j: dict[str, Any]) -> dict[str, Any]:
    """An executor's job dict as a `jobs` row (timestamps from epoch seconds), without lineage columns.

    Enum values (a `JobStatus` handed over in-process by the driver engine) become their plain strings: the JVM
    cannot unpickle our classes.
    """
    out = {k: _plain(j.get(k)) for k in _JOB_FIELDS}
    for key in ("submitted_at", "expires_at"):
        value = out.get(key)
        out[key] = None if value is None else datetime.fromtimestamp(float(value), timezone.utc)
    return out


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def merge_results(spark: SparkSession, tables: TableLocation, rows: DataFrame, target: RunTarget) -> None:
    """MERGE per-document rows (doc_id, text_sha256, category?, confidence?, classes?, error_*, job_id?)."""
    from pyspark.sql import functions as F

    cols = set(rows.columns)

    def col(name: str, kind: Any) -> Any:
        return (F.col(name) if name in cols else F.lit(None)).cast(kind).alias(name)

    full = rows.select(
        "doc_id",
        col("category", "string"),
        col("confidence", "double"),
        col("classes", ledger.RESULTS_SCHEMA["classes"].dataType),
        col("error_code", "string"),
        col("error_message", "string"),
        F.lit(target.project).alias("project_name"),
        F.lit(target.deployment).alias("deployment_name"),
        F.lit(target.kind).alias("kind"),
        F.lit(target.api_version).alias("api_version"),
        col("job_id", "string"),
        F.lit(target.run_id).alias("run_id"),
        F.col("text_sha256"),
        F.current_timestamp().alias("classified_at"),
        F.lit(target.model_label).cast("string").alias("model_label"),
        F.lit(target.model_id).cast("string").alias("model_id"),
    )
    merge_rows(spark, tables, ledger.RESULTS, full, ["doc_id", "project_name", "deployment_name"])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        service: LedgerService = self.server.ledger  # type: ignore[attr-defined]
        if not hmac.compare_digest(self.headers.get(TOKEN_HEADER, ""), service.token.reveal()):
            self._reply(401, {"error": "missing or wrong ledger token"})
            return
        try:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            reply = service.handle(self.path, body)
        except KeyError as exc:
            self._reply(404 if self.path not in ("/commit", "/events", "/lookup") else 400, {"error": f"{exc}"})
            return
        except (LedgerError, ValueError) as exc:
            self._reply(503 if isinstance(exc, LedgerError) else 400, {"error": str(exc)})
            return
        self._reply(200, reply)

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("ledger http: " + format, *args)
