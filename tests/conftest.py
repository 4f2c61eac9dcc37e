"""Shared fixtures. Unit tests need none of these; integration fixtures start real services on loopback."""

from __future__ import annotations

import os

# Keep local Spark quiet and deterministic before pyspark is imported anywhere.
os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)  # type: ignore[attr-defined]
os.environ.setdefault("TZ", "UTC")
