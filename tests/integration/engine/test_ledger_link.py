"""The executor-to-driver wire: the run token is required, never shown, and failures are typed."""

from __future__ import annotations

import asyncio
import pickle

import httpx
import pytest

from ctc_spark.config import Secret
from ctc_spark.engine.ledger.client import TOKEN_HEADER, LedgerLink
from ctc_spark.engine.ledger.server import LedgerService, RunTarget
from ctc_spark.errors import LedgerError
from ctc_spark.io.tables import TableLocation

TARGET = RunTarget("run-1", "p", "d", "single", "2023-04-01")


@pytest.fixture
def service():
    # No Spark: these requests never reach a Delta writer (lookups only, and nothing is queued to write).
    svc = LedgerService(None, TableLocation.parse("/tmp/unused"), TARGET).start()  # type: ignore[arg-type]
    yield svc
    svc.close()


def test_the_service_binds_loopback_and_hides_its_token(service: LedgerService) -> None:
    assert service.url.startswith("http://127.0.0.1:")
    assert service.token.reveal() not in repr(service) and service.token.reveal() not in repr(service.token)


def test_a_request_without_the_run_token_is_refused(service: LedgerService) -> None:
    response = httpx.post(f"{service.url}/lookup", json={"batch_ids": ["b"]}, headers={TOKEN_HEADER: "guess"})
    assert response.status_code == 401
    link = LedgerLink(service.url, Secret("guess"))
    with pytest.raises(LedgerError, match="answered 401") as err:
        asyncio.run(_lookup(link, ["b"]))
    assert err.value.status == 401
    assert pickle.loads(pickle.dumps(err.value)).status == 401


def test_lookup_answers_what_the_ledger_knows(service: LedgerService) -> None:
    link = LedgerLink(service.url, service.token)
    assert asyncio.run(_lookup(link, ["b1", "b2"])) == {"finished": [], "jobs": {}, "abort": None}
    assert service.token.reveal() not in repr(link)


def test_an_unreachable_driver_is_a_ledger_error() -> None:
    link = LedgerLink("http://127.0.0.1:9", Secret("t"), transport=httpx.AsyncHTTPTransport(retries=0))
    with pytest.raises(LedgerError, match="unreachable"):
        asyncio.run(_lookup(link, ["b"]))


async def _lookup(link: LedgerLink, ids: list[str]) -> dict[str, object]:
    try:
        return await link.lookup(ids)
    finally:
        await link.aclose()


class _BrokenSpark:
    """Stands in for a session whose Delta writes fail (a full disk, a revoked credential)."""

    def createDataFrame(self, *args: object, **kwargs: object) -> object:
        raise OSError("No space left on device")


def test_a_failed_commit_is_refused_to_executors_and_raised_by_close() -> None:
    svc = LedgerService(
        _BrokenSpark(),
        TableLocation.parse("/tmp/unused"),
        TARGET,  # type: ignore[arg-type]
        commit_seconds=0.0,
    ).start()
    link = LedgerLink(svc.url, svc.token)
    job = {
        "batch_id": "b1",
        "resource": "r",
        "doc_ids": ["d"],
        "text_sha256s": ["s"],
        "job_id": "j1",
        "operation_location": "http://x/jobs/j1",
        "submitted_at": 1.0e9,
        "expires_at": None,
        "status": "submitted",
        "attempts": 1,
        "last_error": None,
    }

    async def commit() -> dict[str, object]:
        try:
            return await link.commit([job])
        finally:
            await link.aclose()

    with pytest.raises(LedgerError, match="No space left on device") as refused:
        asyncio.run(commit())
    assert refused.value.status == 503  # the executor's task fails; it never polls the uncommitted job
    with pytest.raises(LedgerError, match="the ledger failed: OSError"):
        svc.close()
