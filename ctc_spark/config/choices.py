"""The one check of an option that takes one of a few literal values (`--skip-by`, `--retry-errors`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from ctc_spark.errors import ConfigError

__all__ = ["check_choice"]

Choice = TypeVar("Choice", bound=str)


def check_choice(value: str, choices: Sequence[Choice], *, what: str, key: str) -> Choice:
    """The member of `choices` equal to `value` (typed as the choices' `Literal`).

    Raises:
        ConfigError: `value` is none of them; names the value, `what` it should be, the choices and `key`.
    """
    for known in choices:
        if value == known:
            return known
    raise ConfigError(f"unknown {what} {value!r}; use one of {', '.join(choices)}", key=key)
