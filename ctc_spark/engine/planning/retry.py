"""Which error rows a run sends again: each error code a `results` row can carry is transient or permanent.

Transient codes are failures that can pass (the service failed or forgot the job, a submit's answer was lost,
a result went missing, the request was throttled out); permanent codes are refusals of the document itself
(null, empty, too large, invalid, badly encoded), which the same text would get again. A code this module does
not know is treated as permanent: re-sending it blindly could bill the same refusal every night.

The policy (`--retry-errors`): `none` sends no error row again, `transient` (the default) the transient ones,
`all` every error row.
"""

from __future__ import annotations

from typing import Literal

from ctc_spark.config.choices import check_choice

__all__ = [
    "PERMANENT_CODES",
    "RETRY_ERRORS",
    "TRANSIENT_CODES",
    "RetryErrors",
    "check_retry_errors",
    "done_condition",
    "is_transient",
    "retried",
]

RetryErrors = Literal["none", "transient", "all"]
RETRY_ERRORS: tuple[RetryErrors, ...] = ("none", "transient", "all")

TRANSIENT_CODES = frozenset(
    {
        # the engine's own codes for a batch that gave up (`engine/ledger/states.py` TERMINAL_ERRORS, MISSING_RESULT)
        "JobFailed",
        "JobExpired",
        "SubmitOutcomeUnknown",
        # a job that answered without the document (`service/wire.py`)
        "MissingResult",
        # the service's error codes for its own failures, throttling and quota
        "TooManyRequests",
        "QuotaExceeded",
        "Throttled",
        "InternalServerError",
        "ServiceUnavailable",
        "Timeout",
        "Conflict",
        "OperationNotFound",
        "UnknownError",
    }
)

PERMANENT_CODES = frozenset(
    {
        # refused before any call (`engine/planning/packing.py`)
        "NullDocument",
        "EmptyDocument",
        "DocumentTooLarge",
        "InvalidEncoding",
        # the service refused the document or the request that carried it
        "RequestRejected",
        "InvalidDocument",
        "InvalidDocumentBatch",
        "InvalidArgument",
        "InvalidParameterValue",
        "InvalidRequest",
        "InvalidRequestBodyFormat",
        "EmptyRequest",
        "MissingInputDocuments",
        "UnsupportedLanguageCode",
        "InvalidCountryHint",
        "ModelVersionIncorrect",
    }
)


def check_retry_errors(value: str) -> RetryErrors:
    """The value if it is a known policy.

    Raises:
        ConfigError: anything else; names the value and the choices.
    """
    return check_choice(value, RETRY_ERRORS, what="retry policy", key="--retry-errors")


def is_transient(code: str) -> bool:
    """True when the error can pass by itself (the same text may succeed another night)."""
    return code in TRANSIENT_CODES


def retried(code: str | None, policy: RetryErrors) -> bool:
    """True when a `results` row with this `error_code` (None: a classified row) is sent again under `policy`."""
    if code is None or policy == "none":
        return False
    return policy == "all" or is_transient(code)


def done_condition(policy: RetryErrors) -> str | None:
    """The SQL predicate on `error_code` of the rows that count as done under `policy`; None: every row.

    Equal to `not retried(error_code, policy)` row by row.
    """
    if policy == "none":
        return None
    if policy == "all":
        return "error_code IS NULL"
    codes = ", ".join(f"'{c}'" for c in sorted(TRANSIENT_CODES))
    return f"(error_code IS NULL OR error_code NOT IN ({codes}))"
