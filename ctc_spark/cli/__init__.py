"""The `ctc-spark` command: one subcommand module per concern under `ctc_spark.cli`.

A failure ends in `SystemExit` with a non-zero status whoever calls `main`: a console script, `python -m`, or a
Databricks `python_wheel_task`, which calls the entry point's function and ignores what it returns.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from ctc_spark.config import ENV_ENDPOINT, ENV_KEY, ENV_KEY_SECRET
from ctc_spark.errors import CTCError
from ctc_spark.io.logs import configure_logging

__all__ = ["add_common_arguments", "build_parser", "main", "service_flags"]

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
    """`--config`, `--endpoint`, `--key-secret` and `-v`; subcommands pass `argparse.SUPPRESS` so a value given
    before them survives."""
    parser.add_argument("--config", default=default, help=_CONFIG_HELP)
    parser.add_argument(
        "--endpoint",
        default=default,
        metavar="URL",
        help=f"the Language resource's endpoint (overrides ${ENV_ENDPOINT} and the settings file)",
    )
    parser.add_argument(
        "--key-secret",
        default=default,
        metavar="SCOPE/KEY",
        help=f"read the key from this Databricks secret (overrides ${ENV_KEY_SECRET}, ${ENV_KEY} and the file)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=False if default is None else default, help="log at DEBUG level"
    )


@contextmanager
def service_flags(args: argparse.Namespace, environ: MutableMapping[str, str] | None = None) -> Iterator[None]:
    """While the command runs, `--endpoint` and `--key-secret` stand in for their variables, then are undone.

    The flags are how a Databricks job passes the bundle's endpoint and secret name (serverless compute has no
    cluster environment variables); the settings loader stays the one reader of the environment.
    """
    environ = os.environ if environ is None else environ
    wanted: dict[str, str | None] = {}
    if getattr(args, "endpoint", None):
        wanted[ENV_ENDPOINT] = args.endpoint
    if getattr(args, "key_secret", None):
        wanted.update({ENV_KEY_SECRET: args.key_secret, ENV_KEY: None})  # the flag wins over a key variable
    saved = {name: environ.get(name) for name in wanted}
    try:
        _apply(environ, wanted)
        yield
    finally:
        _apply(environ, saved)


def _apply(environ: MutableMapping[str, str], values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value


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
    """Run one `ctc-spark` command; any failure raises `SystemExit` with a non-zero status.

    Args:
        argv: the arguments (default `sys.argv[1:]`).

    Returns:
        0, when the command succeeded.

    Raises:
        SystemExit: 1 a `CTCError` (printed), 2 a usage mistake (argparse), 130 interrupted, or the command's
            own non-zero status; a wheel task that ignores return values still fails, and so do the tasks
            after it.
    """
    status = _run(argv)
    if status:
        raise SystemExit(status)
    return 0


def _run(argv: Sequence[str] | None) -> int:
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
        with service_flags(args):
            return int(args.func(args) or 0)
    except CTCError as exc:
        print(f"ctc-spark: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ctc-spark: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    main()
