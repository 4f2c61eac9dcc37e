"""Azure-shaped JSON answers and timestamps."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["azure_error", "iso"]


def iso(ts: float) -> str:
    """ISO-8601 UTC with `T` and `Z`, 7 fractional digits like the service."""
    moment = datetime.fromtimestamp(ts, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def azure_error(
    status: int, code: str, message: str, *, inner_code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """`{"error": {"code", "message", "innererror"?}}` with the given status."""
    error: dict[str, Any] = {"code": code, "message": message}
    if inner_code:
        error["innererror"] = {"code": inner_code, "message": message}
    return JSONResponse({"error": error}, status_code=status, headers=headers)
