"""The `ctc-spark` command: one subcommand module per concern under `ctc_spark.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ctc_spark.errors import CTCError
from ctc_spark.io.logs import configure_logging

__all__ = ["build_parser", "main"]

# Each module exposes `register(subparsers)`, which adds its subcommands with `func` set as a default.
_COMMAND_MODULES = (
    "ctc_spark.cli.emulator",
    "ctc_spark.cli.local",
    "ctc_spark.cli.classify",
    "ctc_spark.cli.training",
    "ctc_spark.cli.corpus",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ctc-spark",
        description="Classify large text corpora with Azure AI Language custom text classification on Spark.",
    )
    parser.add_argument("--config", help="settings file (default: $CTC_SPARK_CONFIG or conf/local.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
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
