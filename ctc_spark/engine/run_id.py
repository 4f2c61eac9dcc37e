"""Run ids: generated or given, checked (characters, length), and never used twice in one tables location."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

from ctc_spark.errors import ConfigError

__all__ = ["MAX_RUN_ID", "check_run_id", "new_run_id", "reused_run_error"]

MAX_RUN_ID = 100
_RUN_ID = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_RUN_ID - 1}}}$")


def new_run_id(now: datetime | None = None) -> str:
    """A timestamp and a random suffix, e.g. `20260101T020000Z-1a2b3c4d`."""
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


def check_run_id(run_id: str) -> str:
    """The run id, if it is 1 to 100 letters, digits, `.`, `_` or `-`, starting with a letter or digit.

    Raises:
        ConfigError: names the value and the rule.
    """
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ConfigError(
            f"run id {run_id!r} is not valid: use 1 to {MAX_RUN_ID} letters, digits, '.', '_' or '-', "
            "starting with a letter or a digit",
            key="--run-id",
        )
    return run_id


def reused_run_error(run_id: str, project: str | None, deployment: str | None, status: str | None) -> ConfigError:
    """The error for a run id that names an earlier run in the same tables."""
    return ConfigError(
        f"run id {run_id!r} was already used by a run of {project}/{deployment} ({status}) in these tables; "
        "each run needs its own id: re-run without --run-id, or with a new one (a new run resumes the old one)",
        key="--run-id",
    )
