"""`ctc-spark classify` and `ctc-spark runs`; `jobs/classify.py` shares the same arguments."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import Any

from ctc_spark.cli.arguments import name_argument
from ctc_spark.config import ENGINE_CHOICES
from ctc_spark.io.inputs import FORMATS

__all__ = ["add_classify_arguments", "register", "run_classify", "run_runs"]


def add_classify_arguments(parser: argparse.ArgumentParser) -> None:
    """The classify arguments, in one place for the CLI and the spark-submit entry point."""
    parser.add_argument("--project", required=True, type=name_argument("project"), help="the CTC project name")
    parser.add_argument(
        "--deployment", required=True, type=name_argument("deployment"), help="the deployment to classify with"
    )
    parser.add_argument("--kind", required=True, choices=("single", "multi"), help="single- or multi-label")
    parser.add_argument(
        "--input",
        required=True,
        help="corpus path (Delta, Parquet, JSON, CSV or a folder of .txt), or a table: catalog.schema.table",
    )
    parser.add_argument("--format", choices=FORMATS, help="input format (default: guessed from the path)")
    parser.add_argument("--id-col", default="id", help="document id column (default: id)")
    parser.add_argument("--text-col", default="text", help="document text column (default: text)")
    parser.add_argument("--tables", required=True, help="catalog.schema, or a folder: absolute, ./relative or a URI")
    parser.add_argument("--run-id", help="name this run (default: a timestamp and a random suffix)")
    parser.add_argument("--force", action="store_true", help="classify again documents already classified")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="if another run is classifying the same project and deployment into these tables, wait for it "
        "(default: refuse at once)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINE_CHOICES,
        help="who calls the service: executors (Spark tasks), driver (the driver process; Spark Connect), or "
        "auto: driver for Spark Connect sessions and for a local master with at most 3,000 calls/min of quota, "
        "else executors (default: [engine] engine, auto)",
    )
    parser.add_argument(
        "--skip-by",
        choices=("text+model", "text"),
        default="text+model",
        help="skip documents whose result row has the same text and was written by the deployment's current "
        "model (text+model, the default), or the same text whatever the model (text)",
    )
    parser.add_argument(
        "--retry-errors",
        choices=("none", "transient", "all"),
        help="which error rows of earlier runs to send again: transient (the service failed, the job expired or "
        "its answer was lost; not refused documents), none, or all (default: [engine] retry_errors, transient)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="plan only: print the documents to send and skip, requests, text records, calls and duration; "
        "no analyze call, nothing written",
    )
    parser.add_argument(
        "--max-text-records",
        type=int,
        metavar="N",
        help="refuse the run, before any analyze call, when its plan bills more than N text records",
    )


def register(subparsers: Any) -> None:
    """Add `classify` and `runs`."""
    p = subparsers.add_parser("classify", help="classify a corpus into Delta tables (resumable, incremental)")
    add_classify_arguments(p)
    p.set_defaults(func=run_classify)
    r = subparsers.add_parser("runs", help="list recent runs and their counts")
    r.add_argument("--tables", required=True, help="catalog.schema, or a folder: absolute, ./relative or a URI")
    r.add_argument("--limit", type=int, default=20, help="how many runs (default: 20)")
    r.set_defaults(func=run_runs)


def run_classify(args: argparse.Namespace) -> int:
    """Read the input, run the classification, print the summary; 0 when it reconciles."""
    from ctc_spark.config import load_settings
    from ctc_spark.engine.run import run_classification
    from ctc_spark.engine.run_id import check_run_id
    from ctc_spark.io.inputs import read_input
    from ctc_spark.io.session import get_spark
    from ctc_spark.io.tables import TableLocation

    settings = load_settings(args.config)
    tables = TableLocation.parse(args.tables)  # refused before a Spark session starts
    if args.run_id is not None:
        check_run_id(args.run_id)
    if getattr(args, "engine", None):
        settings = replace(settings, engine=replace(settings.engine, engine=args.engine))
    # Local workers must run this interpreter (pyarrow, httpx); spark-submit and Databricks set their own.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = get_spark(settings.spark)
    df = read_input(spark, args.input, args.format)
    summary = run_classification(
        df,
        project=args.project,
        deployment=args.deployment,
        kind=args.kind,
        tables=tables,
        settings=settings,
        run_id=args.run_id,
        force=args.force,
        id_col=args.id_col,
        text_col=args.text_col,
        source=args.input,
        wait=args.wait,
        progress=lambda msg: print(msg, flush=True),
        skip_by=args.skip_by,
        dry_run=args.dry_run,
        max_text_records=args.max_text_records,
        retry_errors=getattr(args, "retry_errors", None),
    )
    if summary.dry_run:
        print(f"dry run {summary.run_id}: nothing was sent or written (model {summary.model_label})", flush=True)
        return 0
    print(
        f"run {summary.run_id}: {summary.input_docs} input = {summary.skipped_docs} skipped + "
        f"{summary.succeeded_docs} succeeded + {summary.errored_docs} errored; {summary.submits} submits, "
        f"{summary.polls} polls, {summary.throttled} throttled, {summary.text_records} text records, "
        f"{summary.duration_seconds:.1f}s (planning {summary.planning_seconds:.1f}s, "
        f"classifying {summary.service_seconds:.1f}s); model {summary.model_label}",
        flush=True,
    )
    return 0


def run_runs(args: argparse.Namespace) -> int:
    """Print the most recent runs."""
    from ctc_spark.config import load_settings
    from ctc_spark.engine.ledger.tables import RUNS
    from ctc_spark.io.session import get_spark
    from ctc_spark.io.tables import TableLocation, read_table

    spark = get_spark(load_settings(args.config).spark)
    cols = [
        "run_id",
        "status",
        "project_name",
        "deployment_name",
        "started_at",
        "duration_seconds",
        "input_docs",
        "skipped_docs",
        "succeeded_docs",
        "errored_docs",
        "submits",
        "polls",
        "throttled",
        "model_label",
    ]
    runs = read_table(spark, TableLocation.parse(args.tables), RUNS).orderBy("started_at", ascending=False)
    runs.select(*(c for c in cols if c in runs.columns)).show(args.limit, truncate=False)
    return 0
