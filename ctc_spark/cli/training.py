"""`ctc-spark train | evaluate | deploy | projects`; `jobs/train.py` shares the train arguments."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from datetime import date
from typing import Any

from ctc_spark.cli.arguments import name_argument
from ctc_spark.io.inputs import FORMATS

__all__ = [
    "add_train_arguments",
    "name_argument",
    "register",
    "run_deploy",
    "run_evaluate",
    "run_projects",
    "run_train",
]


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The train arguments, in one place for the CLI and the spark-submit entry point."""
    parser.add_argument(
        "--project", required=True, type=name_argument("project"), help="the CTC project (created or updated)"
    )
    parser.add_argument("--kind", required=True, choices=("single", "multi"))
    parser.add_argument("--labels", required=True, help="labelled data path (Delta, Parquet, JSON, CSV)")
    parser.add_argument("--format", choices=FORMATS, help="labelled data format (default: guessed)")
    parser.add_argument("--id-col", default="id")
    parser.add_argument("--text-col", default="text")
    parser.add_argument("--label-col", default="label", help="label column: a string, an array, or 'a|b' for multi")
    parser.add_argument("--label-delimiter", default="|", help="separator of a multi-label string column (default |)")
    parser.add_argument("--classes", help="comma-separated allowed classes; any other label is refused before upload")
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--split", type=int, default=80, help="percentage of documents to train on (default 80)")
    split.add_argument("--split-col", help="manual split: a column holding Train or Test")
    parser.add_argument("--model", required=True, type=name_argument("model"), help="the model label to train")
    parser.add_argument("--training-config-version", default="latest")
    parser.add_argument("--tables", required=True, help="catalog.schema, or a folder: absolute, ./relative or a URI")
    parser.add_argument("--container", help="Blob container (default: storage.container in the config)")
    parser.add_argument("--wait", action="store_true", help="if a training job is running, wait for it, then train")
    parser.add_argument("--report", help="also write the evaluation report into this folder")


def register(subparsers: Any) -> None:
    """Add `train`, `evaluate`, `deploy` and `projects`."""
    t = subparsers.add_parser("train", help="upload labelled data, import, train, record the model and evaluation")
    add_train_arguments(t)
    t.set_defaults(func=run_train)
    e = subparsers.add_parser("evaluate", help="print a model's evaluation and write a report")
    e.add_argument("--project", required=True, type=name_argument("project"))
    e.add_argument("--model", required=True, type=name_argument("model"))
    e.add_argument("--tables", help="also record the evaluation in these Delta tables")
    e.add_argument("--report", default="evaluation-report", help="report folder (default: evaluation-report)")
    e.set_defaults(func=run_evaluate)
    d = subparsers.add_parser("deploy", help="deploy a model, or swap two deployments")
    d.add_argument("--project", required=True, type=name_argument("project"))
    d.add_argument("--model", type=name_argument("model"), help="the model label to deploy")
    d.add_argument("--deployment", type=name_argument("deployment"), help="the deployment name")
    d.add_argument(
        "--swap", nargs=2, type=name_argument("deployment"), metavar=("D1", "D2"), help="swap two deployments instead"
    )
    d.add_argument("--tables", help="record the deployment in these Delta tables")
    d.set_defaults(func=run_deploy, usage=_deploy_usage)
    p = subparsers.add_parser("projects", help="list or delete projects")
    p.add_argument("action", choices=("list", "delete"))
    p.add_argument("--project", type=name_argument("project"), help="the project to delete")
    p.set_defaults(func=run_projects, usage=_projects_usage)


def _deploy_usage(args: argparse.Namespace) -> str | None:
    """A usage mistake argparse cannot see by itself (exit 2), or None."""
    if not args.swap and not (args.model and args.deployment):
        return "deploy needs --model and --deployment (or --swap D1 D2)"
    return None


def _projects_usage(args: argparse.Namespace) -> str | None:
    return "projects delete needs --project" if args.action == "delete" and not args.project else None


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[tuple[Any, Any]]:
    """The settings and an authoring client for the primary resource, closed when the command ends.

    A `--tables` that is neither a schema nor clearly a folder is refused first, before any training is paid for.
    """
    from ctc_spark.config import load_settings
    from ctc_spark.io.tables import TableLocation
    from ctc_spark.service import AuthoringClient

    if getattr(args, "tables", None):
        TableLocation.parse(args.tables)
    settings = load_settings(args.config)
    with AuthoringClient(settings.service.primary, settings.service) as client:
        yield settings, client


def run_train(args: argparse.Namespace) -> int:
    """Read, validate, upload, import, train; then record the model and its evaluation."""
    with _client(args) as (settings, client):
        return _train(args, settings, client)


def _train(args: argparse.Namespace, settings: Any, client: Any) -> int:
    from ctc_spark.io.inputs import read_corpus
    from ctc_spark.io.session import get_spark
    from ctc_spark.io.tables import TableLocation
    from ctc_spark.training.report import evaluation_table, write_report
    from ctc_spark.training.workflow import TrainOptions, labelled_docs, record_training, train_model

    spark = get_spark(settings.spark)
    df = read_corpus(spark, args.labels, args.format)
    docs = labelled_docs(
        df,
        kind=args.kind,
        id_col=args.id_col,
        text_col=args.text_col,
        label_col=args.label_col,
        split_col=args.split_col,
        delimiter=args.label_delimiter,
    )
    options = TrainOptions(
        project=args.project,
        kind=args.kind,
        model_label=args.model,
        split=args.split,
        manual_split=bool(args.split_col),
        training_config_version=args.training_config_version,
        container=args.container,
        wait_for_running=args.wait,
        classes=tuple(c.strip() for c in args.classes.split(",")) if args.classes else None,
    )
    result = train_model(settings, client, docs, options, progress=lambda m: print(m, flush=True))
    summary = record_training(spark, TableLocation.parse(args.tables), options, result, client)
    print(f"model {args.model} trained (job {result.job_id}); evaluation on the test split:")
    print(evaluation_table(summary))
    if args.report:
        print(f"report: {write_report(summary, args.report, project=args.project, model=args.model)}")
    _warn_expiry(f"model {args.model}", {"modelExpirationDate": result.model.get("modelExpirationDate")})
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Print the evaluation table and write the report folder."""
    from ctc_spark.training import tables as mt
    from ctc_spark.training.report import evaluation_table, write_report
    from ctc_spark.training.workflow import evaluate_model

    with _client(args) as (settings, client):
        summary, docs = evaluate_model(client, args.project, args.model)
    print(evaluation_table(summary))
    print(f"report: {write_report(summary, args.report, project=args.project, model=args.model)}")
    if args.tables:
        from ctc_spark.io.session import get_spark
        from ctc_spark.io.tables import TableLocation

        spark, loc = get_spark(settings.spark), TableLocation.parse(args.tables)
        this_model = {"project_name": args.project, "model_label": args.model}
        mt.write_rows(
            spark, loc, mt.EVALUATIONS, mt.evaluation_rows(args.project, args.model, summary), replace=this_model
        )
        mt.write_rows(
            spark,
            loc,
            mt.EVALUATION_DOCUMENTS,
            mt.evaluation_document_rows(args.project, args.model, docs),
            replace=this_model,
        )
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    """Deploy (or swap), wait, record, and warn about near expiry dates."""
    from ctc_spark.training.workflow import deploy_model, deployed_rows, swap_deployments

    with _client(args) as (settings, client):
        if args.swap:
            swap_deployments(client, args.project, *args.swap)
            print(f"swapped deployments {args.swap[0]} and {args.swap[1]} in {args.project}")
            names = list(args.swap)
        else:
            deploy_model(client, args.project, args.model, args.deployment)
            print(f"deployed {args.project}/{args.model} as {args.deployment}")
            names = [args.deployment]
        rows = deployed_rows(client, args.project, names, args.model)
    for deployed in rows:
        for what, dates in deployed.dates.items():
            _warn_expiry(what, dates)
    if args.tables:
        from ctc_spark.io.session import get_spark
        from ctc_spark.io.tables import TableLocation
        from ctc_spark.training import tables as mt

        spark = get_spark(settings.spark)
        mt.write_rows(spark, TableLocation.parse(args.tables), mt.DEPLOYMENTS, [d.row for d in rows])
    return 0


def _warn_expiry(what: str, dates: dict[str, Any]) -> None:
    from ctc_spark.training.workflow import expiry_warnings

    for line in expiry_warnings(what, dates, date.today()):
        print(line)


def run_projects(args: argparse.Namespace) -> int:
    """List projects, or delete one and wait for the deletion job."""
    from ctc_spark.service import wait_for_operation

    with _client(args) as (_, client):
        if args.action == "list":
            for p in client.list_projects():
                print(f"{p.get('projectName')}\t{p.get('projectKind')}\t{p.get('lastTrainedDateTime', '')}")
            return 0
        wait_for_operation(client, client.delete_project(args.project))
    print(f"deleted project {args.project}")
    return 0
