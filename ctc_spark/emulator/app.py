"""The emulator's ASGI app: key check, quotas, fault injection and stats in front of the runtime and authoring routes."""

from __future__ import annotations

import asyncio
import hmac
import re
from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctc_spark.emulator import runtime_api
from ctc_spark.emulator.config import FaultProfile
from ctc_spark.emulator.context import EmulatorContext
from ctc_spark.emulator.responses import azure_error

__all__ = ["build_app"]

_RUNTIME = "/language/analyze-text/"
_AUTHORING = "/language/authoring/analyze-text"
_JOB_ID = re.compile(r"/jobs/[^/?]+")
_PROJECT = re.compile(r"/projects/(?!global\b)[^/]+")
_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)


def _route_label(method: str, path: str) -> str:
    path = _JOB_ID.sub("/jobs/{id}", path)
    return _PROJECT.sub("/projects/{project}", path)


class _Gate:
    """ASGI middleware: stats for every request; key, quota and faults for the Azure routes."""

    def __init__(self, app: ASGIApp, ctx: EmulatorContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        status = {"code": 500}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._handle(scope, receive, counting_send, path, method)
        finally:
            self.ctx.stats.request(method, _route_label(method, path), status["code"])

    def _key(self, scope: Scope) -> str | None:
        """The request's subscription key when it is one of the emulator's, else None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("ocp-apim-subscription-key", "")
        given = key.encode("utf-8", "surrogateescape")
        accepted = [hmac.compare_digest(given, k.encode()) for k in self.ctx.config.keys]
        return key if any(accepted) else None

    async def _handle(self, scope: Scope, receive: Receive, send: Send, path: str, method: str) -> None:
        if path.startswith("/emulator/"):
            # Faults and resets change what every client sees: they need a key. The counters stay readable.
            if (method, path) != ("GET", "/emulator/stats") and self._key(scope) is None:
                await azure_error(401, "401", _DENIED)(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        runtime = path.startswith(_RUNTIME)
        if not runtime and not path.startswith(_AUTHORING):
            await azure_error(404, "404", "Resource not found")(scope, receive, send)
            return
        key = self._key(scope)
        if key is None:
            await azure_error(401, "401", _DENIED)(scope, receive, send)
            return
        if not runtime:
            self.ctx.stats.add("authoring_requests")
        scope_name = "runtime" if runtime else ("authoring-get" if method == "GET" else "authoring-post")
        wait = self.ctx.quota.take(key, scope_name)
        if wait is None and runtime:
            fault = self.ctx.faults.on_request()
            if fault is not None:
                self.ctx.stats.add("faults_injected")
                if fault == "throttle":
                    wait = 1
                elif await self._inject(fault, scope, receive, send):
                    return
        if wait is not None:
            self.ctx.stats.add("throttled")
            message = (
                f"Requests to the {'Analyze Text' if runtime else 'Authoring'} Operation under Azure AI Language "
                f"have exceeded rate limit of your current pricing tier. Please retry after {wait} second"
                f"{'s' if wait != 1 else ''}."
            )
            await azure_error(429, "429", message, headers={"Retry-After": str(wait)})(scope, receive, send)
            return
        if runtime and method == "POST" and path.rstrip("/").endswith("/analyze-text/jobs"):
            lost = self.ctx.faults.on_submit()
            if lost is not None:
                await self._lose_answer(lost, scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _lose_answer(self, status: int, scope: Scope, receive: Receive, send: Send) -> None:
        """Create the job, then answer `status` instead of its 202 (0: drop the connection mid-answer)."""

        async def discard(message: Message) -> None:
            return None

        await self.app(scope, receive, discard)
        self.ctx.stats.add("faults_injected")
        if status == 0:
            await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"4096")]})
            raise ConnectionResetError("injected: the submit's answer was lost")
        await azure_error(status, str(status), "Injected fault: the gateway lost the answer.")(scope, receive, send)

    async def _inject(self, fault: str, scope: Scope, receive: Receive, send: Send) -> bool:
        """Apply a fault; True when the request is answered (or dropped) by it."""
        if fault == "slow":
            await asyncio.sleep(self.ctx.faults.profile.slow_seconds)
            return False
        if fault == "reset":
            # Start a response, then fail: the server drops the connection mid-answer, as a reset does.
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4096")]})
            raise ConnectionResetError("injected connection reset")
        code, status = ("InternalServerError", 500) if fault == "500" else ("ServiceUnavailable", 503)
        await azure_error(status, code, f"Injected fault: {code}.")(scope, receive, send)
        return True


def _emulator_routes(ctx: EmulatorContext) -> list[Route]:
    async def stats(request: Request) -> Response:
        return JSONResponse(ctx.stats.snapshot())

    async def reset(request: Request) -> Response:
        ctx.stats.reset()
        return Response(status_code=204)

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(asdict(ctx.faults.profile))
        try:
            profile = FaultProfile(**(await request.json()))
        except (TypeError, ValueError) as exc:
            return azure_error(400, "InvalidArgument", f"bad fault profile: {exc}")
        ctx.faults.set(profile, ctx.config.seed)
        return JSONResponse(asdict(profile))

    return [
        Route("/emulator/stats", stats, methods=["GET"]),
        Route("/emulator/stats/reset", reset, methods=["POST"]),
        Route("/emulator/faults", faults, methods=["GET", "PUT"]),
    ]


def build_app(ctx: EmulatorContext) -> Any:
    """The Starlette app for one emulator context."""
    from ctc_spark.emulator import authoring_api

    routes: list[Any] = [*_emulator_routes(ctx), *runtime_api.routes(ctx)]
    routes.append(Mount(_AUTHORING, routes=authoring_api.routes(ctx)))
    app = Starlette(routes=routes)
    return _Gate(app, ctx)
