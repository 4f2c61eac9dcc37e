"""The executor-to-driver wire on loopback: the run token is required and never shown, failures are typed, and
nothing an unauthenticated or malformed client sends costs more than a bounded amount."""

from __future__ import annotations

import asyncio
import pickle
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from ledger_fakes import MemorySink, job_row, result_row

from ctc_spark.config import Secret
from ctc_spark.engine.ledger.client import LedgerLink
from ctc_spark.engine.ledger.http import LedgerHTTP
from ctc_spark.engine.ledger.protocol import TOKEN_HEADER
from ctc_spark.engine.ledger.writer import LedgerWriter, WriterTimings
from ctc_spark.errors import LedgerError

pytestmark = pytest.mark.integration

FAST = WriterTimings(commit_seconds=0.0, results_seconds=0.0, status_seconds=0.0)


class _Front:
    def __init__(self, sink: MemorySink, **options: object) -> None:
        self.sink = sink
        self.token = Secret("run-token-" + "x" * 20)
        self.writer = LedgerWriter(sink, timings=FAST).start()
        self.http = LedgerHTTP(self.writer, self.token, **options).start()  # type: ignore[arg-type]
        self.url = self.http.url

    def close(self) -> None:
        self.http.close()
        self.writer.close()
        self.writer.join()


@pytest.fixture
def front() -> Iterator[_Front]:
    f = _Front(MemorySink())
    yield f
    f.close()


def _call(link: LedgerLink, method: str, *args: object) -> object:
    async def go() -> object:
        try:
            return await getattr(link, method)(*args)
        finally:
            await link.aclose()

    return asyncio.run(go())


def test_the_front_binds_loopback_and_hides_its_token(front: _Front) -> None:
    assert front.url.startswith("http://127.0.0.1:")
    link = LedgerLink(front.url, front.token)
    secret = front.token.reveal()
    assert secret not in repr(front.http) and secret not in repr(link) and secret not in repr(front.token)


def test_a_request_without_the_run_token_is_refused(front: _Front) -> None:
    response = httpx.post(f"{front.url}/lookup", json={"batch_ids": ["b"]}, headers={TOKEN_HEADER: "guess"})
    assert response.status_code == 401
    with pytest.raises(LedgerError, match="answered 401") as err:
        _call(LedgerLink(front.url, Secret("guess")), "lookup", ["b"])
    assert err.value.status == 401
    assert pickle.loads(pickle.dumps(err.value)).status == 401


def test_a_non_ascii_token_is_a_401_not_a_dropped_connection(front: _Front) -> None:
    # http.server decodes headers as Latin-1; hmac.compare_digest raised TypeError on such a str (no answer).
    with socket.create_connection(("127.0.0.1", int(front.url.rsplit(":", 1)[1]))) as s:
        s.sendall(b"POST /lookup HTTP/1.1\r\nHost: x\r\n" + TOKEN_HEADER.encode() + b": \xe9t\xe9\r\n")
        s.sendall(b"Content-Length: 2\r\n\r\n{}")
        assert s.recv(200).startswith(b"HTTP/1.1 401")


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/lookup", b"[1, 2]", 400),  # JSON, but not an object
        ("/lookup", b"{not json", 400),
        ("/commit", b'{"jobs": [{"batch_id": 7}]}', 400),
        ("/events", b'{"docs": "all of them"}', 400),
        ("/elsewhere", b"{}", 404),
    ],
)
def test_a_malformed_body_gets_an_answer_and_changes_nothing(
    front: _Front, path: str, body: bytes, status: int
) -> None:
    response = httpx.post(f"{front.url}{path}", content=body, headers={TOKEN_HEADER: front.token.reveal()})
    assert response.status_code == status and "error" in response.json()
    assert front.sink.jobs == [] and front.writer.failure is None


def test_a_huge_body_is_refused_before_it_is_read(front: _Front) -> None:
    with socket.create_connection(("127.0.0.1", int(front.url.rsplit(":", 1)[1]))) as s:
        s.sendall(
            b"POST /events HTTP/1.1\r\nHost: x\r\n" + TOKEN_HEADER.encode() + b": " + front.token.reveal().encode()
        )
        s.sendall(b"\r\nContent-Length: 104857600\r\n\r\n")  # 100 MB announced, none sent
        assert s.recv(200).startswith(b"HTTP/1.1 413")


def test_the_run_is_served_while_200_idle_connections_are_open() -> None:
    f = _Front(MemorySink(), read_timeout=2.0)
    port = int(f.url.rsplit(":", 1)[1])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    try:
        link = LedgerLink(f.url, f.token)
        assert _call(link, "commit", [job_row("b1")]) == {"abort": None}
        assert _call(LedgerLink(f.url, f.token), "events", [result_row("d1")], []) == {"abort": None}
        assert [j["batch_id"] for j in f.sink.jobs] == ["b1"]
    finally:
        for s in idle:
            s.close()
        f.close()
    assert f.sink.result_ids() == ["d1"]


def test_connections_past_the_limit_are_closed_and_idle_ones_time_out() -> None:
    f = _Front(MemorySink(), max_connections=4, read_timeout=0.5)
    port = int(f.url.rsplit(":", 1)[1])
    baseline = threading.active_count()  # this process may hold other threads (a SparkSession's, say)
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    try:
        for s in held:
            s.settimeout(5)
        # Four are served (then time out, idle, and are closed); the rest are closed at once. Either way the
        # server ends every one of them: no thread waits forever on a client that sends nothing, and at most
        # `max_connections` handler threads ever existed for them.
        assert all(s.recv(1) == b"" for s in held)
        assert threading.active_count() <= baseline + 4
        assert _call(LedgerLink(f.url, f.token), "lookup", ["b"]) == {"finished": [], "jobs": {}, "abort": None}
    finally:
        for s in held:
            s.close()
        f.close()


def test_an_unreachable_driver_is_a_ledger_error_with_its_cause() -> None:
    link = LedgerLink("http://127.0.0.1:9", Secret("t"), transport=httpx.AsyncHTTPTransport(retries=0))
    with pytest.raises(LedgerError, match="unreachable") as err:
        _call(link, "lookup", ["b"])
    assert isinstance(err.value.__cause__, httpx.ConnectError)


def test_a_failed_commit_is_refused_to_executors_and_raised_by_close() -> None:
    f = _Front(MemorySink(fail=OSError("No space left on device")))
    with pytest.raises(LedgerError, match="No space left on device") as refused:
        _call(LedgerLink(f.url, f.token), "commit", [job_row("b1")])
    assert refused.value.status == 503  # the executor's task fails; it never polls the uncommitted job
    f.http.close()
    with pytest.raises(LedgerError, match="the ledger failed: OSError"):
        f.writer.close()
