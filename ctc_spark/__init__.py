"""ctc-spark: classify very large text corpora with Azure AI Language custom text classification on Spark."""

from __future__ import annotations

from ctc_spark.config import Secret, Settings, load_settings
from ctc_spark.errors import (
    AuthenticationError,
    ConfigError,
    CTCError,
    InputError,
    NotFoundError,
    ServiceError,
    ThrottledError,
)
from ctc_spark.spark import get_spark

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "CTCError",
    "ConfigError",
    "InputError",
    "NotFoundError",
    "Secret",
    "ServiceError",
    "Settings",
    "ThrottledError",
    "__version__",
    "get_spark",
    "load_settings",
]
