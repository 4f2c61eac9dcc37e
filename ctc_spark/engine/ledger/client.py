"""An executor task's HTTP client of the driver's ledger (`http.LedgerHTTP`): the calls of `protocol.Ledger`.

Each call is one JSON POST. The token is per run, random, and travels only in the `protocol.TOKEN_HEADER`
header; it is never logged.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from ctc_spark.config import Secret
from ctc_spark.engine.ledger.protocol import TOKEN_HEADER, LedgerCalls
from ctc_spark.errors import LedgerError

__all__ = ["LedgerLink"]

_CONNECT_ATTEMPTS = 5


class LedgerLink(LedgerCalls):
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

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
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
                    raise LedgerError(f"the driver's ledger at {self._client.base_url} is unreachable: {exc}") from exc
                await asyncio.sleep(0.5 * attempt)
            except httpx.HTTPError as exc:
                raise LedgerError(f"ledger {path} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise LedgerError(
                f"ledger {path} answered {response.status_code}: {response.text[:500]}", status=response.status_code
            )
        reply: dict[str, Any] = response.json()
        return reply
