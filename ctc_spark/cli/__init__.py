"""The `ctc-spark` command: one subcommand module per concern under `ctc_spark.cli`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from ctc_spark.errors import CTCError
from ctc_spark.io.logs import configure_logging

__all__ = ["add_common_arguments", "build_parser", "main"]

# Each module exposes `register(subparsers)`, which adds its subcommands with `func` set as a default (and
# `usage`, a check for mistakes argparse cannot express, returning a message or None).
_COMMAND_MODULES = (
    "ctc_spark.cli.emulator",
    "ctc_spark.cli.local",
    "ctc_spark.cli.classify",
    "ctc_spark.cli.maintain",
    "ctc_spark.cli.training",
    "ctc_spark.cli.corpus",
)


_CONFIG_HELP = "settings file (default: $CTC_SPARK_CONFIG, else conf/local.toml, else built-in defaults)"


def add_common_arguments(parser: argparse.ArgumentParser, *, default: Any = None) -> None:
    """`--config` and `-v`; subcommands pass `argparse.SUPPRESS` so a value given before them survives."""
    parser.add_argument("--config", default=default, help=_CONFIG_HELP)
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=False if default is None else default, help="log at DEBUG level"
    )


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: also takes `--config` and `-v`, so they work before or after the subcommand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        add_common_arguments(self, default=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    """The `ctc-spark` parser with every subcommand registered.

    Returns:
        The parser; `--config` and `-v` are accepted before or after any subcommand.
    """
    parser = argparse.ArgumentParser(
        prog="ctc-spark",
        description="Classify large text corpora with Azure AI Language custom text classification on Spark.",
    )
    add_common_arguments(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `ctc-spark` command.

    Args:
        argv: the arguments (default `sys.argv[1:]`).

    Returns:
        The exit status: 0 done, 1 a `CTCError` (printed), 2 a usage mistake (argparse), 130 interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
    if not getattr(args, "func", None):
        parser.error("a command is required")
    usage = getattr(args, "usage", None)
    problem = usage(args) if usage is not None else None
    if problem:
        parser.error(problem)
    try:
        return int(args.func(args) or 0)
    except CTCError as exc:
        print(f"ctc-spark: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ctc-spark: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
