"""The driver engine's link to its ledger: `LedgerWriter.handle` in a worker thread, no socket, no token.

A call's hand-over is shielded: if the awaiting task is cancelled, the call still completes in its thread,
and `aclose()` waits for every call still in a thread, so the writer never receives a call after the
streaming stage has closed it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ctc_spark.engine.ledger.protocol import LedgerCalls
from ctc_spark.engine.ledger.writer import LedgerWriter

__all__ = ["InProcessLink"]


class InProcessLink(LedgerCalls):
    """A `protocol.Ledger` over a `LedgerWriter` in the same process."""

    def __init__(self, writer: LedgerWriter) -> None:
        self._writer = writer
        self._pending: set[asyncio.Future[Any]] = set()

    def __repr__(self) -> str:
        return f"InProcessLink({self._writer!r})"

    async def aclose(self) -> None:
        """Wait for every call still being handed over."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _call(self, path: str, body: dict[str, Any]) -> Any:
        # A commit blocks until the Delta write is durable: off the event loop, as an HTTP request would be.
        call = asyncio.ensure_future(asyncio.to_thread(self._writer.handle, path, body))
        self._pending.add(call)
        call.add_done_callback(self._pending.discard)
        return await asyncio.shield(call)
