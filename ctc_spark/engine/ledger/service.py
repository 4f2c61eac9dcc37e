"""One run's ledger: the writer into the run's Delta tables and, for the executor engine, its HTTP front.

A context manager: entering starts the writer (and the front); leaving stops the front, waits for every
call it accepted, writes the last results and raises the writer's failure, if any. The last job states may
still be committing after that: `join()` waits for them (the run reconciles meanwhile).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ctc_spark.config import Secret
from ctc_spark.engine.ledger.http import LedgerHTTP
from ctc_spark.engine.ledger.routing import ResultRouting
from ctc_spark.engine.ledger.sink import DeltaSink, RunTarget
from ctc_spark.engine.ledger.writer import LedgerWriter
from ctc_spark.io.tables import TableLocation

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["LedgerService"]


class LedgerService:
    """The writer of one run, served over HTTP at `url` when `serve` (else called in-process: `InProcessLink`)."""

    def __init__(
        self, sink: DeltaSink, writer: LedgerWriter, *, serve: bool, host: str = "127.0.0.1", bind: str | None = None
    ) -> None:
        self.target = sink.target
        self.token = Secret(secrets.token_urlsafe(24))
        self.writer = writer
        self.front = LedgerHTTP(self.writer, self.token, host=host, bind=bind) if serve else None

    @classmethod
    def for_run(
        cls,
        spark: SparkSession,
        location: TableLocation,
        target: RunTarget,
        *,
        serve: bool,
        host: str = "127.0.0.1",
        bind: str | None = None,
        fenced: Callable[[Any], Any] | None = None,
        routing: ResultRouting | None = None,
        **writer: Any,
    ) -> LedgerService:
        """The ledger of the run `target` into the tables at `location`; `fenced` and `routing` go to the
        `DeltaSink`, `writer` to the `LedgerWriter`."""
        sink = DeltaSink(spark, location, target, fenced=fenced, routing=routing)
        return cls(sink, LedgerWriter(sink, **writer), serve=serve, host=host, bind=bind)

    def __repr__(self) -> str:
        return f"LedgerService(url={self.url!r}, run_id={self.target.run_id!r})"

    @property
    def url(self) -> str:
        """Where tasks reach the ledger; empty when it is called in-process."""
        return self.front.url if self.front is not None else ""

    def __enter__(self) -> LedgerService:
        self.writer.start()
        if self.front is not None:
            self.front.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.close()  # a ledger failure is the root cause of a failed stage: it is raised first
        finally:
            if kind is not None or self.writer.failure is not None:
                with contextlib.suppress(BaseException):
                    self.join()  # the job states that did arrive are committed before the error surfaces

    def close(self) -> None:
        """Stop the front, then the writer (see `LedgerWriter.close`).

        Raises:
            LedgerError: a write failed during the run. LeaseLostError: the run lost its lease.
        """
        try:
            if self.front is not None:
                self.front.close()
        finally:
            self.writer.close()

    def join(self) -> None:
        """Wait for the last job states (after `close`); raises as `close` does."""
        self.writer.join()
