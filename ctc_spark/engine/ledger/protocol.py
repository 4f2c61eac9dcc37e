"""The contract between a streaming task and its run's ledger: the calls, the rows that cross, and their schema.

A task talks to the ledger through three calls, over HTTP (the executor engine: `client.LedgerLink` to
`http.LedgerHTTP`) or in-process (the driver engine: `inprocess.InProcessLink` to `service.LedgerService`):

    lookup(batch_ids)  -> LookupReply  what earlier attempts of these batches already committed or finished
    commit(jobs)       -> Reply        answered once the job ids are durable in `jobs`; only then is a job polled
    events(docs, jobs) -> Reply        result rows and job states, written in groups while the run goes on

Every reply carries `abort`: a fatal service error (or a lost lease) that stops every task. A task never
polls a job before `commit` has returned for it, and a ledger never drops a row it has accepted: the writer's
`close` waits for every call handed to it (see `writer.py`).

This module imports neither pyspark nor httpx: the task side and the driver side both use it.
"""

from __future__ import annotations

import types
import typing
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, cast

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "COMMIT",
    "EVENTS",
    "LOOKUP",
    "MAX_BODY_BYTES",
    "PATHS",
    "TOKEN_HEADER",
    "ClassScore",
    "CommittedJob",
    "JobRow",
    "Ledger",
    "LedgerCalls",
    "LookupReply",
    "Reply",
    "ResultRow",
    "arrow_schema",
    "body_error",
]

LOOKUP, COMMIT, EVENTS = "/lookup", "/commit", "/events"
PATHS = (LOOKUP, COMMIT, EVENTS)
TOKEN_HEADER = "x-ctc-ledger-token"  # the run's random token; never logged
MAX_BODY_BYTES = 64 * 1024 * 1024  # a task flushes every half second: far below this


class ClassScore(TypedDict):
    """One class of a document's answer."""

    category: str
    confidence: float


class ResultRow(TypedDict):
    """One document's terminal outcome, as a task reports it: a class (or classes) or an error."""

    doc_id: str
    text_sha256: str
    category: str | None
    confidence: float | None
    classes: list[ClassScore] | None
    error_code: str | None
    error_message: str | None
    job_id: str | None


class JobRow(TypedDict):
    """One submission of a batch and its state, as a task reports it (times in epoch seconds)."""

    batch_id: str
    resource: str
    doc_ids: list[str]
    text_sha256s: list[str]
    n_chars: int
    job_id: str | None
    operation_location: str | None
    submitted_at: float | None
    expires_at: float | None
    status: str
    attempts: int
    last_error: str | None
    terminal: bool


class CommittedJob(TypedDict):
    """What the ledger knows of a batch's committed job, for a retried task's `lookup`."""

    job_id: str | None
    operation_location: str | None
    attempts: int
    submitted_at: float | None


class Reply(TypedDict):
    """The answer to `commit` and `events`."""

    abort: str | None


class LookupReply(TypedDict):
    """The answer to `lookup`: batches already finished, and committed jobs to poll instead of resubmitting."""

    finished: list[str]
    jobs: dict[str, CommittedJob]
    abort: str | None


class Ledger(Protocol):
    """A task's side of the ledger; `client.LedgerLink` (HTTP) and `inprocess.InProcessLink` implement it."""

    async def lookup(self, batch_ids: list[str]) -> LookupReply: ...

    async def commit(self, jobs: list[JobRow]) -> Reply: ...

    async def events(self, docs: list[ResultRow], jobs: list[JobRow]) -> Reply: ...

    async def aclose(self) -> None: ...


class LedgerCalls:
    """The three calls of `Ledger`, each as one `_call(path, body)`: a link implements `_call` and `aclose`."""

    async def lookup(self, batch_ids: list[str]) -> LookupReply:
        return cast(LookupReply, await self._call(LOOKUP, {"batch_ids": batch_ids}))

    async def commit(self, jobs: list[JobRow]) -> Reply:
        return cast(Reply, await self._call(COMMIT, {"jobs": jobs}))

    async def events(self, docs: list[ResultRow], jobs: list[JobRow]) -> Reply:
        return cast(Reply, await self._call(EVENTS, {"docs": docs, "jobs": jobs}))

    async def _call(self, path: str, body: dict[str, Any]) -> Any:
        raise NotImplementedError


def arrow_schema(row: type) -> pa.Schema:
    """The Arrow schema of a row `TypedDict` of this module, field by field in declaration order."""
    import pyarrow as pa

    return pa.schema([(name, _arrow_type(hint)) for name, hint in typing.get_type_hints(row).items()])


def _arrow_type(hint: object) -> pa.DataType:
    import pyarrow as pa

    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return _arrow_type(args[0])  # `X | None`: nullable X (every Arrow field is nullable)
    if typing.get_origin(hint) is list:
        return pa.list_(_arrow_type(args[0]))
    if isinstance(hint, type) and typing.is_typeddict(hint):
        return pa.struct([(n, _arrow_type(h)) for n, h in typing.get_type_hints(hint).items()])
    scalars = {str: pa.string(), float: pa.float64(), int: pa.int64(), bool: pa.bool_()}
    if hint in scalars:
        return scalars[hint]
    raise TypeError(f"no Arrow type for {hint!r}")


def body_error(path: str, body: object) -> str | None:
    """What is wrong with a call's decoded JSON body, or None: the fields each call needs, with their kinds.

    Only the shape is checked (the rows are the run's own tasks'); a body that fails it gets a 400.
    """
    if not isinstance(body, dict):
        return f"the body must be a JSON object, not {type(body).__name__}"
    fields = {LOOKUP: ("batch_ids",), COMMIT: ("jobs",), EVENTS: ("docs", "jobs")}.get(path)
    if fields is None:
        return None  # an unknown path is answered 404 by the caller
    for name in fields:
        value = body.get(name, [] if path == EVENTS else None)
        if not isinstance(value, list):
            return f"{name!r} must be a list"
        rows = {"jobs": JobRow, "docs": ResultRow}.get(name)
        if rows is None:
            if not all(isinstance(v, str) for v in value):
                return f"{name!r} must hold strings"
            continue
        required = ("batch_id", "status") if rows is JobRow else ("doc_id", "text_sha256")
        for i, row in enumerate(value):
            if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in required):
                return f"{name}[{i}] must be an object with string fields {', '.join(required)}"
    return None
