"""Read ahead on a thread: the scheduler's event loop takes the rows that are ready and never blocks on input.

Both engines feed their scheduler through it: the driver engine reads `toLocalIterator()`, a streaming task
reads its partition as the packing step upstream in the same stage produces it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ctc_spark.engine.task.protocol import BatchRow

__all__ = ["BUFFER_BATCHES", "Prefetcher"]

BUFFER_BATCHES = 2000  # packed batches read ahead of the scheduler: ~50,000 documents at most in memory
_END = object()


class Prefetcher:
    """Reads rows on a thread into a bounded queue; the scheduler takes what is ready without blocking its loop.

    It is the scheduler's `protocol.BatchSource`: `rows` yields `BatchRow`s, as dicts or Spark `Row`s. The bound keeps the driver's memory flat whatever the corpus size: the reader waits while the queue is full.
    """

    def __init__(self, rows: Iterator[Any], buffer: int) -> None:
        self._rows = rows
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, buffer))
        self._stop = threading.Event()
        self._done = False
        self._failure: BaseException | None = None
        self._wake: Callable[[], None] = lambda: None
        self._thread = threading.Thread(target=self._read, name="ctc-prefetch", daemon=True)

    def start(self) -> Prefetcher:
        self._thread.start()
        return self

    def bind(self, wake: Callable[[], None]) -> None:
        """Call `wake` (thread-safe) whenever rows arrive or the input ends."""
        self._wake = wake
        wake()

    def take_ready(self, n: int) -> tuple[list[BatchRow], bool]:
        """Up to `n` rows that are ready now, and whether the input is exhausted.

        Raises:
            BaseException: whatever reading the input raised (a failed Spark job).
        """
        out: list[BatchRow] = []
        while len(out) < n and not self._done:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _END:
                self._done = True
            else:
                out.append(item)
        if self._done and self._failure is not None:
            if out:
                return out, False  # these rows first; the failure on the next call
            raise self._failure
        return out, self._done

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                self._queue.get_nowait()
            except queue.Empty:
                self._thread.join(timeout=0.1)

    def _read(self) -> None:
        try:
            for row in self._rows:
                item = row.asDict() if hasattr(row, "asDict") else dict(row)
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
                self._notify()
        except BaseException as exc:
            self._failure = exc
        finally:
            close = getattr(self._rows, "close", None)
            if close is not None and self._stop.is_set():
                close()
            self._put_end()

    def _put_end(self) -> None:
        while True:
            try:
                self._queue.put(_END, timeout=0.5)
                break
            except queue.Full:
                if self._stop.is_set():
                    return
        self._notify()

    def _notify(self) -> None:
        with contextlib.suppress(RuntimeError):  # the scheduler's loop has ended (an abort): nobody to wake
            self._wake()
