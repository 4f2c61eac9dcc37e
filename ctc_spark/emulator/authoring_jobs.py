"""Authoring long-running-operation job envelopes (import, export, train, deploy, swap, delete), kept in the Store."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

__all__ = ["JOB_TTL", "TERMINAL", "JobBook", "JsonStore", "iso", "new_job_id"]

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


class JsonStore(Protocol):
    """The part of the emulator's Store these books use: JSON values by (namespace, key)."""

    def put(self, ns: str, key: str, value: Any) -> None: ...
    def get(self, ns: str, key: str) -> Any: ...
    def delete(self, ns: str, key: str) -> None: ...
    def items(self, ns: str) -> list[tuple[str, Any]]: ...


class JobBook:
    """Creates, updates and lists job envelopes; a record is `{kind, project, path, job}` (path below the API root)."""

    def __init__(self, store: JsonStore, clock: Callable[[], float]) -> None:
        self._store = store
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
            self._store.put(_NAMESPACE, job_id, record)
        return record

    def get(self, job_id: str, *, kind: str | None = None, project: str | None = None) -> dict[str, Any] | None:
        """The record for `job_id`, or None when unknown or not of the given kind/project."""
        record = self._store.get(_NAMESPACE, job_id)
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
            record = self._store.get(_NAMESPACE, job_id)
            if record is None:
                raise KeyError(job_id)
            mutate(record["job"])
            record["job"]["lastUpdatedDateTime"] = iso(self.now())
            self._store.put(_NAMESPACE, job_id, record)
            return dict(record)

    def list(self, kind: str, project: str) -> list[dict[str, Any]]:
        """Records of one kind for one project, oldest first."""
        records = [r for _, r in self._store.items(_NAMESPACE) if r.get("kind") == kind and r.get("project") == project]
        return sorted(records, key=lambda r: str(r["job"]["createdDateTime"]))

    def drop_project(self, project: str) -> None:
        """Forget every job of a deleted project."""
        with self._lock:
            for _, record in self._store.items(_NAMESPACE):
                if record.get("project") == project:
                    self._store.delete(_NAMESPACE, record["job"]["jobId"])
