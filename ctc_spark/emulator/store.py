"""The emulator's persistent state: a thread-safe sqlite key/value store of JSON records and binary blobs."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB, PRIMARY KEY (ns, key));
"""


class Store:
    """(namespace, key) -> JSON value or bytes; in memory when `state_dir` is None, else `<state_dir>/state.db`."""

    def __init__(self, state_dir: Path | None) -> None:
        if state_dir is not None:
            Path(state_dir).mkdir(parents=True, exist_ok=True)
            target = str(Path(state_dir) / "state.db")
        else:
            target = ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            if state_dir is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)

    def put(self, ns: str, key: str, value: Any) -> None:
        self._write(ns, key, json.dumps(value, separators=(",", ":")).encode("utf-8"))

    def get(self, ns: str, key: str) -> Any:
        raw = self._read(ns, key)
        return None if raw is None else json.loads(raw)

    def put_bytes(self, ns: str, key: str, value: bytes) -> None:
        self._write(ns, key, value)

    def get_bytes(self, ns: str, key: str) -> bytes | None:
        return self._read(ns, key)

    def delete(self, ns: str, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM kv WHERE ns = ? AND key = ?", (ns, key))

    def items(self, ns: str) -> list[tuple[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM kv WHERE ns = ? ORDER BY key", (ns,)).fetchall()
        return [(k, json.loads(v)) for k, v in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, ns: str, key: str, value: bytes) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO kv (ns, key, value) VALUES (?, ?, ?)", (ns, key, value))

    def _read(self, ns: str, key: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM kv WHERE ns = ? AND key = ?", (ns, key)).fetchone()
        return None if row is None else bytes(row[0])
