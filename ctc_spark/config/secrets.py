"""Secrets named instead of written: `scope/key` resolved through Databricks' `dbutils.secrets.get`.

Serverless Databricks has no cluster environment variables, so a job names the secret
(`AZURE_LANGUAGE_KEY_SECRET=scope/key` or `key_secret = "scope/key"`) and the loader resolves it here.
The resolver is injectable; the value goes straight into a `Secret` and is never logged.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from ctc_spark.config.model import Secret
from ctc_spark.errors import ConfigError

__all__ = ["SecretResolver", "databricks_secret", "resolve_secret_name"]

log = logging.getLogger(__name__)

SecretResolver = Callable[[str, str], str]
"""Takes (scope, key) and returns the secret's value."""


def databricks_secret(scope: str, key: str) -> str:
    """The value of a Databricks secret, read through `dbutils.secrets.get`.

    Raises:
        ConfigError: not on Databricks (databricks-sdk's runtime is missing).
    """
    try:
        runtime: Any = importlib.import_module("databricks.sdk.runtime")
    except ImportError:
        raise ConfigError(
            f"secret '{scope}/{key}' is named, but secret names are resolved on Databricks only "
            "(databricks.sdk.runtime is not importable); set the value's environment variable instead"
        ) from None
    return str(runtime.dbutils.secrets.get(scope=scope, key=key))


def resolve_secret_name(name: str, *, resolver: SecretResolver, key: str, source: str) -> Secret:
    """Resolve `scope/key` into a `Secret`.

    Args:
        name: the secret's name, `scope/key`.
        resolver: reads the value; `databricks_secret` on Databricks, a stand-in in tests.
        key: the setting or variable that named it, for errors.
        source: the file or "the environment", for errors.

    Returns:
        The value, wrapped in a `Secret`.

    Raises:
        ConfigError: the name is not `scope/key`, the resolver failed, or the secret is empty.
    """
    scope, _, secret_key = name.partition("/")
    if not scope or not secret_key:
        raise ConfigError(f"expected a secret name 'scope/key', got {name!r}", key=key, source=source)
    try:
        value = resolver(scope, secret_key)
    except ConfigError:
        raise
    except Exception as exc:  # the resolver's message may quote what it read, so only its type is kept
        raise ConfigError(
            f"could not read secret '{scope}/{secret_key}' ({type(exc).__name__})", key=key, source=source
        ) from None
    if not value:
        raise ConfigError(f"secret '{scope}/{secret_key}' is empty", key=key, source=source)
    log.debug("resolved %s from secret %s/%s", key, scope, secret_key)
    return Secret(value)
