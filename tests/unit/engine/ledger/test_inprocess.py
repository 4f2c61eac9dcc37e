"""The driver engine's link to its ledger: calls made off the event loop, in a worker thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ctc_spark.engine.ledger.inprocess import InProcessLink


class _Ledger:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any], str]] = []

    def handle(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((path, body, threading.current_thread().name))
        return {"abort": None}


def test_in_process_link_calls_the_ledger_off_the_event_loop() -> None:
    ledger = _Ledger()
    link = InProcessLink(ledger)  # type: ignore[arg-type]

    async def go() -> list[dict[str, Any]]:
        return [
            await link.commit([{"batch_id": "b1"}]),
            await link.events([{"doc_id": "d"}], []),
            await link.lookup(["b1"]),
        ]

    main = threading.current_thread().name
    assert asyncio.run(go()) == [{"abort": None}] * 3
    assert [c[0] for c in ledger.calls] == ["/commit", "/events", "/lookup"]
    assert ledger.calls[0][1] == {"jobs": [{"batch_id": "b1"}]}
    assert all(thread != main for _, _, thread in ledger.calls)
