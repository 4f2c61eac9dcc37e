"""The ledger's HTTP front for the executor engine: three authenticated JSON POSTs onto a `LedgerWriter`.

It listens on the driver for the run's own tasks, but anything on the network can connect, so nothing an
unauthenticated client sends costs more than a bounded amount: at most `max_connections` handler threads
(more connections are closed at once), a socket timeout on every read, a body limit checked before the body
is read, a token compared in constant time as bytes (a non-ASCII header is a 401, not an exception), and a
400 for any body that is not the call's JSON object.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ctc_spark.config import Secret
from ctc_spark.engine.ledger.protocol import MAX_BODY_BYTES, PATHS, TOKEN_HEADER, body_error
from ctc_spark.engine.ledger.writer import LedgerWriter
from ctc_spark.errors import LedgerError

__all__ = ["LedgerHTTP"]

log = logging.getLogger(__name__)


class LedgerHTTP:
    """Serves `writer` at `http://{host}:{port}` (bound to `bind`) for callers holding `token`."""

    def __init__(
        self,
        writer: LedgerWriter,
        token: Secret,
        *,
        host: str = "127.0.0.1",
        bind: str | None = None,
        max_connections: int = 256,
        read_timeout: float = 10.0,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.host = host  # the address in the tasks' URL
        self._server = _Server((bind or host, 0), _Handler, max_connections=max_connections)
        self._server.writer = writer
        self._server.token = token.reveal().encode()
        self._server.read_timeout = read_timeout
        self._server.max_body = max_body
        self._thread = threading.Thread(target=self._server.serve_forever, name="ctc-ledger-http", daemon=True)

    def __repr__(self) -> str:
        return f"LedgerHTTP(url={self.url!r})"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> LedgerHTTP:
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting connections (calls in progress finish: the writer's `close` waits for them)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    writer: LedgerWriter
    token: bytes
    read_timeout: float
    max_body: int

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, max_connections: int
    ) -> None:
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("ledger http: too many connections; closing one from %s", client_address[0])
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.request.settimeout(self.server.read_timeout)  # every read of this connection, headers and body
        super().setup()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (TimeoutError, ConnectionError):
            self.close_connection = True

    def do_POST(self) -> None:
        got = self.headers.get(TOKEN_HEADER, "").encode("latin-1", "replace")
        if not hmac.compare_digest(got, self.server.token):
            self._reply(401, {"error": "missing or wrong ledger token"}, close=True)
            return
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            self._reply(400, {"error": "content-length is not a number"}, close=True)
            return
        if length < 0 or length > self.server.max_body:
            self._reply(413, {"error": f"the body must be 0 to {self.server.max_body} bytes"}, close=True)
            return
        if self.path not in PATHS:
            self._reply(404, {"error": "unknown path"}, close=True)
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            self._reply(400, {"error": "the body is not JSON"})
            return
        problem = body_error(self.path, body)
        if problem is not None:
            self._reply(400, {"error": problem})
            return
        try:
            reply: dict[str, Any] = dict(self.server.writer.handle(self.path, body))
        except LedgerError as exc:
            self._reply(503, {"error": str(exc)})
            return
        except (KeyError, TypeError, ValueError) as exc:
            self._reply(400, {"error": f"{type(exc).__name__}: {exc}"})
            return
        self._reply(200, reply)

    def _reply(self, status: int, payload: dict[str, Any], *, close: bool = False) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        if close:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("ledger http: " + format, *args)
