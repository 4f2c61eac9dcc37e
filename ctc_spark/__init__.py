"""ctc-spark: classify very large text corpora with Azure AI Language custom text classification on Spark."""

from __future__ import annotations

from typing import Any

from ctc_spark.config import Secret, Settings, load_settings
from ctc_spark.errors import (
    AuthenticationError,
    ConfigError,
    CTCError,
    InputError,
    NotFoundError,
    ReconciliationError,
    ServiceError,
    ThrottledError,
)
from ctc_spark.io.session import get_spark

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "CTCError",
    "ConfigError",
    "InputError",
    "NotFoundError",
    "ReconciliationError",
    "RunSummary",
    "Secret",
    "ServiceError",
    "Settings",
    "ThrottledError",
    "__version__",
    "classify",
    "get_spark",
    "load_settings",
    "maintain",
    "run_classification",
]

_LAZY = {
    "classify": "ctc_spark.engine.run",
    "run_classification": "ctc_spark.engine.run",
    "RunSummary": "ctc_spark.engine.run",
    "maintain": "ctc_spark.engine.maintenance",
}


def __getattr__(name: str) -> Any:
    # The Spark flow imports pyspark's SQL types; load it on first use so `import ctc_spark` stays light.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ctc_spark' has no attribute {name!r}")
