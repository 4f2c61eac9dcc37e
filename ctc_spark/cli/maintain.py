"""`ctc-spark maintain`: compact, cluster and vacuum the engine's tables, prune old job rows, drop orphaned plans."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_maintain_arguments", "register", "run_maintain"]


def add_maintain_arguments(parser: argparse.ArgumentParser) -> None:
    """The maintain arguments, in one place for the CLI and the spark-submit entry point."""
    parser.add_argument("--tables", required=True, help="a folder for the Delta tables, or catalog.schema")
    parser.add_argument(
        "--retention-hours",
        type=float,
        default=168.0,
        metavar="N",
        help="VACUUM keeps the files a version of the last N hours refers to (default: 168, Delta's floor)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print each table's files and bytes and what would be pruned; change nothing",
    )


def register(subparsers: Any) -> None:
    """Add `maintain`."""
    p = subparsers.add_parser(
        "maintain",
        help="OPTIMIZE and VACUUM the tables, prune job rows no resume needs, drop orphaned plan tables "
        "(safe while a run classifies)",
    )
    add_maintain_arguments(p)
    p.set_defaults(func=run_maintain)


def run_maintain(args: argparse.Namespace) -> int:
    """Maintain the tables and print each one's files and bytes before and after."""
    from ctc_spark.config import load_settings
    from ctc_spark.engine.maintenance import maintain
    from ctc_spark.io.session import get_spark

    spark = get_spark(load_settings(args.config).spark)
    report = maintain(
        spark,
        args.tables,
        retention_hours=args.retention_hours,
        dry_run=args.dry_run,
        progress=lambda msg: print(msg, flush=True),
    )
    print(
        f"{'dry run: ' if report.dry_run else ''}{len(report.tables)} tables, {report.pruned_job_rows} job rows "
        f"pruned, {len(report.dropped_plans)} orphaned plans dropped, {len(report.kept_plans)} plans of live runs kept",
        flush=True,
    )
    return 0
