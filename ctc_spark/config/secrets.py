"""Secrets named instead of written: `scope/key` resolved through Databricks' `dbutils.secrets.get`.

Serverless Databricks has no cluster environment variables, so a job names the secret
(`--key-secret`, `AZURE_LANGUAGE_KEY_SECRET=scope/key` or `key_secret = "scope/key"`) and the loader resolves it
here. On Spark Connect runtimes (standard access mode, serverless) `databricks.sdk.runtime` may fail with a
PySpark error rather than `ImportError`, so any failure there falls back to the workspace API
(`WorkspaceClient().secrets.get_secret`). The resolver is injectable; the value goes straight into a `Secret`
and is never logged, and errors name the scope and key, never the value or a backend's message.
"""

from __future__ import annotations

import base64
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
    """The value of a Databricks secret: `dbutils.secrets.get`, else the workspace API.

    Raises:
        ConfigError: neither way could read it (off Databricks, no access, no such secret); names the scope and
            key and the type of each failure, never a message that could quote the value.
    """
    try:
        runtime: Any = importlib.import_module("databricks.sdk.runtime")
        return str(runtime.dbutils.secrets.get(scope=scope, key=key))
    except Exception as exc:  # ImportError off Databricks; a PySpark runtime error on Connect runtimes
        helper_failure = type(exc).__name__
    log.debug("dbutils could not read secret %s/%s (%s); trying the workspace API", scope, key, helper_failure)
    return _workspace_secret(scope, key, helper_failure)


def _workspace_secret(scope: str, key: str, helper_failure: str) -> str:
    """`WorkspaceClient().secrets.get_secret(scope, key)`, whose value comes base64-encoded."""
    hint = "secret names are resolved on Databricks only (or where databricks-sdk can authenticate); "
    hint += "set the value's environment variable instead"
    try:
        sdk: Any = importlib.import_module("databricks.sdk")
    except ImportError:
        raise ConfigError(
            f"secret '{scope}/{key}' is named, but neither databricks.sdk.runtime ({helper_failure}) nor "
            f"databricks-sdk is available: {hint}"
        ) from None
    try:
        response = sdk.WorkspaceClient().secrets.get_secret(scope=scope, key=key)
        return base64.b64decode(response.value).decode("utf-8")
    except Exception as exc:  # the SDK's message may quote what it read, so only its type is kept
        raise ConfigError(
            f"could not read secret '{scope}/{key}' (dbutils: {helper_failure}; workspace API: "
            f"{type(exc).__name__}): {hint}"
        ) from None


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
