"""The wire between executors and the driver's ledger service: three JSON POSTs, authenticated by a run token.

    POST /lookup  {"batch_ids": [...]}          -> {"finished": [...], "jobs": {batch_id: job}, "abort": str|null}
    POST /commit  {"jobs": [job, ...]}          -> {"abort": ...}  answered once the ids are durable in `jobs`
    POST /events  {"docs": [...], "jobs": [...]} -> {"abort": ...}  results and job states, written later

The token is per run, random, and travels only in the `x-ctc-ledger-token` header; it is never logged.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import httpx

from ctc_spark.config import Secret
from ctc_spark.engine.ledger.protocol import JobRow, LookupReply, Reply, ResultRow
from ctc_spark.errors import LedgerError

__all__ = ["TOKEN_HEADER", "LedgerLink"]

TOKEN_HEADER = "x-ctc-ledger-token"
_CONNECT_ATTEMPTS = 5


class LedgerLink:
    """An executor's async client of the driver's ledger service."""

    def __init__(
        self, url: str, token: Secret, *, timeout: float = 900.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=url,
            headers={TOKEN_HEADER: token.reveal()},
            timeout=httpx.Timeout(timeout, connect=10.0),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"LedgerLink({str(self._client.base_url)!r})"

    async def lookup(self, batch_ids: list[str]) -> LookupReply:
        return cast(LookupReply, await self._post("/lookup", {"batch_ids": batch_ids}))

    async def commit(self, jobs: list[JobRow]) -> Reply:
        return cast(Reply, await self._post("/commit", {"jobs": jobs}))

    async def events(self, docs: list[ResultRow], jobs: list[JobRow]) -> Reply:
        return cast(Reply, await self._post("/events", {"docs": docs, "jobs": jobs}))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST once the connection is up; only connection failures are retried (the driver may be busy).

        Raises:
            LedgerError: the driver refused or failed the request, or could not be reached.
        """
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"}
        for attempt in range(1, _CONNECT_ATTEMPTS + 1):
            try:
                response = await self._client.post(path, content=body, headers=headers)
                break
            except httpx.ConnectError as exc:
                if attempt == _CONNECT_ATTEMPTS:
                    raise LedgerError(f"the driver's ledger at {self._client.base_url} is unreachable: {exc}") from None
                await asyncio.sleep(0.5 * attempt)
            except httpx.HTTPError as exc:
                raise LedgerError(f"ledger {path} failed: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise LedgerError(
                f"ledger {path} answered {response.status_code}: {response.text[:500]}", status=response.status_code
            )
        reply: dict[str, Any] = response.json()
        return reply
