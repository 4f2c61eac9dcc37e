"""Argument types the subcommands share."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ctc_spark.errors import ConfigError
from ctc_spark.service.vocabulary import check_name

__all__ = ["name_argument"]


def name_argument(what: str) -> Callable[[str], str]:
    """An argparse `type` that accepts only the service's names for a project, deployment or model."""

    def parse(value: str) -> str:
        try:
            return check_name(value, what)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(exc.message) from None

    parse.__name__ = f"{what} name"
    return parse
