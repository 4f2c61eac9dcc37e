"""Authoring long-running-operation job envelopes (import, export, train, deploy, swap, delete), kept in the Store."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["JOB_TTL", "TERMINAL", "JobBook", "StoreView", "iso", "new_job_id"]

JOB_TTL = timedelta(days=7)
TERMINAL = frozenset({"succeeded", "failed", "cancelled", "partiallyCompleted"})
_NAMESPACE = "authoring-jobs"
_DOTNET_EPOCH = datetime(1, 1, 1, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    """An Azure-style UTC timestamp (`2022-04-18T15:44:44.123456Z`)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_job_id(now: datetime) -> str:
    """A job id in the service's `<guid>_<.NET ticks>` form."""
    ticks = int((now - _DOTNET_EPOCH).total_seconds()) * 10_000_000
    return f"{uuid.uuid4()}_{ticks}"


class JobBook:
    """Creates, updates and lists job envelopes; a record is `{kind, project, path, job}` (path below the API root)."""

    def __init__(self, store: Any, clock: Callable[[], float]) -> None:
        self._store = store if isinstance(store, StoreView) else StoreView(store)
        self._clock = clock
        self._lock = threading.RLock()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), timezone.utc)

    def create(
        self, kind: str, project: str, path_prefix: str, *, status: str = "notStarted", **fields: Any
    ) -> dict[str, Any]:
        """A new job record under `{path_prefix}/{jobId}`; extra envelope fields (result, errors, ...) as keywords."""
        now = self.now()
        job_id = new_job_id(now)
        job: dict[str, Any] = {
            "jobId": job_id,
            "createdDateTime": iso(now),
            "lastUpdatedDateTime": iso(now),
            "expirationDateTime": iso(now + JOB_TTL),
            "status": status,
            **fields,
        }
        record = {"kind": kind, "project": project, "path": f"{path_prefix}/{job_id}", "job": job}
        with self._lock:
            _store_put(self._store, _NAMESPACE, job_id, record)
        return record

    def get(self, job_id: str, *, kind: str | None = None, project: str | None = None) -> dict[str, Any] | None:
        """The record for `job_id`, or None when unknown or not of the given kind/project."""
        record = _store_get(self._store, _NAMESPACE, job_id)
        if record is None:
            return None
        if (kind and record["kind"] != kind) or (project and record["project"] != project):
            return None
        if str(record["job"]["expirationDateTime"]) < iso(self.now()):
            return None  # job details expire after 7 days, as the service purges them
        return dict(record)

    def update(self, job_id: str, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply `mutate` to the job envelope atomically and stamp lastUpdatedDateTime; returns the new record.

        Raises:
            KeyError: no such job.
        """
        with self._lock:
            record = _store_get(self._store, _NAMESPACE, job_id)
            if record is None:
                raise KeyError(job_id)
            mutate(record["job"])
            record["job"]["lastUpdatedDateTime"] = iso(self.now())
            _store_put(self._store, _NAMESPACE, job_id, record)
            return dict(record)

    def list(self, kind: str, project: str) -> list[dict[str, Any]]:
        """Records of one kind for one project, oldest first."""
        records = [
            r for r in _store_values(self._store, _NAMESPACE) if r.get("kind") == kind and r.get("project") == project
        ]
        return sorted(records, key=lambda r: str(r["job"]["createdDateTime"]))

    def drop_project(self, project: str) -> None:
        """Forget every job of a deleted project."""
        with self._lock:
            for record in _store_values(self._store, _NAMESPACE):
                if record.get("project") == project:
                    _store_delete(self._store, _NAMESPACE, record["job"]["jobId"])


class StoreView:
    """JSON records in EMU-CORE's Store under one API (get/put/delete/items), whatever its exact method names."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._put = _method(store, "put", "put_json", "set", "write")
        self._get = _method(store, "get", "get_json", "read")
        self._delete = _method(store, "delete", "remove")
        self._items = _method(store, "items", "list", "scan", "all")

    def put(self, namespace: str, key: str, value: dict[str, Any]) -> None:
        self._put(namespace, key, value)

    def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        value = self._get(namespace, key)
        if isinstance(value, (bytes, str)):
            value = json.loads(value)
        return dict(value) if value is not None else None

    def delete(self, namespace: str, key: str) -> None:
        self._delete(namespace, key)

    def items(self, namespace: str) -> list[tuple[str, dict[str, Any]]]:
        found = self._items(namespace)
        pairs = found.items() if isinstance(found, dict) else found
        out: list[tuple[str, dict[str, Any]]] = []
        for pair in pairs:
            if isinstance(pair, tuple) and len(pair) == 2:
                key, value = pair
            else:  # a bare key
                key, value = pair, self.get(namespace, str(pair))
            if isinstance(value, (bytes, str)):
                value = json.loads(value)
            if value is not None:
                out.append((str(key), dict(value)))
        return out


def _method(store: Any, *names: str) -> Callable[..., Any]:
    for name in names:
        found = getattr(store, name, None)
        if callable(found):
            return found  # type: ignore[no-any-return]
    raise TypeError(f"the emulator Store has none of the methods {names}")


def _store_put(store: StoreView, namespace: str, key: str, value: dict[str, Any]) -> None:
    store.put(namespace, key, value)


def _store_get(store: StoreView, namespace: str, key: str) -> dict[str, Any] | None:
    return store.get(namespace, key)


def _store_delete(store: StoreView, namespace: str, key: str) -> None:
    store.delete(namespace, key)


def _store_values(store: StoreView, namespace: str) -> list[dict[str, Any]]:
    return [v for _, v in store.items(namespace)]
