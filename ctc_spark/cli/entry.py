"""The shared body of the thin spark-submit entry points in `jobs/` (also run as Databricks `spark_python_task`s)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ctc_spark.errors import CTCError
from ctc_spark.io.classpath import delta_hint, is_delta_missing
from ctc_spark.io.delta import DELTA_VERSION
from ctc_spark.io.logs import configure_logging

__all__ = ["run_entry_point"]


def run_entry_point(
    prog: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    argv: list[str] | None = None,
) -> int:
    """Parse the same arguments as the CLI subcommand (plus the common flags) and run it.

    Returns:
        0, when the command succeeded.

    Raises:
        SystemExit: 1 a `CTCError` or a missing Delta class (printed), 2 a usage mistake (argparse), or the
            command's own non-zero status, so the process fails whether or not the caller passes the status on.
    """
    status = _run(prog, description, add_arguments, run, argv)
    if status:
        raise SystemExit(status)
    return 0


def _run(
    prog: str,
    description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    argv: list[str] | None,
) -> int:
    from ctc_spark.cli import add_common_arguments, service_flags

    parser = argparse.ArgumentParser(prog=prog, description=description)
    add_common_arguments(parser)
    add_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose)
    try:
        with service_flags(args):
            return int(run(args) or 0)
    except CTCError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        # A Delta class missing past the session factory's check (say, a table read on an existing session).
        if not is_delta_missing(exc):
            raise
        print(f"{prog}: error: {delta_hint(DELTA_VERSION)}", file=sys.stderr)
        return 1
