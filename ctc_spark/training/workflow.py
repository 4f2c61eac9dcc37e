"""Driver-side training and deployment: labelled data -> Blob -> import -> train -> evaluate -> deploy/swap."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ctc_spark.config import Settings
from ctc_spark.errors import ConfigError, ConflictError, InputError
from ctc_spark.io.tables import TableLocation
from ctc_spark.service.vocabulary import JobStatus, job_id_from_location, project_kind
from ctc_spark.training import tables as mt
from ctc_spark.training.blobs import blob_name, upload_documents
from ctc_spark.training.labels import LabelledDoc, LabelReport, validate_labelled, validate_resource_name

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ctc_spark.service import AuthoringClient

__all__ = [
    "DeployedRow",
    "TrainOptions",
    "TrainResult",
    "deploy_model",
    "deployed_rows",
    "evaluate_model",
    "expiry_warnings",
    "exported_project",
    "labelled_docs",
    "swap_deployments",
    "train_model",
]

log = logging.getLogger(__name__)
_WARN_DAYS = 30


@dataclass(frozen=True)
class TrainOptions:
    """What to train: project, kind, model label, split (percentage or a manual split column), waiting rules."""

    project: str
    kind: str
    model_label: str
    split: int | None = 80
    manual_split: bool = False
    training_config_version: str = "latest"
    container: str | None = None
    language: str = "en"
    wait_for_running: bool = False
    classes: tuple[str, ...] | None = None  # the allowed classes; a label outside them is refused before upload
    poll_interval: float = 2.0
    deadline_seconds: float = 6 * 3600.0


@dataclass(frozen=True)
class TrainResult:
    """The trained model's JSON, its training job id, and the validation report."""

    model: dict[str, Any]
    job_id: str
    report: LabelReport
    uploaded: int
    existing_blobs: int


def labelled_docs(
    df: DataFrame,
    *,
    kind: str,
    id_col: str = "id",
    text_col: str = "text",
    label_col: str = "label",
    split_col: str | None = None,
    delimiter: str = "|",
) -> list[LabelledDoc]:
    """Collect labelled rows; multi-label takes an array column or a `delimiter`-separated string.

    Raises:
        InputError: a column is missing (names it and the columns that exist).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType

    for col in (id_col, text_col, label_col, *([split_col] if split_col else [])):
        if col not in df.columns:
            raise InputError(f"column '{col}' not found; columns are {df.columns}", column=col)
    label = F.col(label_col)
    if isinstance(df.schema[label_col].dataType, ArrayType):
        labels = label.cast("array<string>")
    elif kind == "multi":
        labels = F.split(label.cast("string"), f"\\{delimiter}" if delimiter in ".|*+?" else delimiter)
    else:
        labels = F.array(label.cast("string"))
    split = F.initcap(F.col(split_col).cast("string")) if split_col else F.lit(None).cast("string")
    rows = df.select(
        F.col(id_col).cast("string").alias("id"),
        F.col(text_col).cast("string").alias("text"),
        labels.alias("labels"),
        split.alias("dataset"),
    ).collect()
    return [
        LabelledDoc(r.id, r.text, tuple(x.strip() if x else x for x in (r.labels or [None])), r.dataset) for r in rows
    ]


def exported_project(
    project: str,
    kind: str,
    container: str,
    docs: Sequence[LabelledDoc],
    classes: Sequence[str],
    *,
    language: str = "en",
) -> dict[str, Any]:
    """The ExportedProject body for `:import`: documents point at their content-addressed blobs."""
    kind_name = project_kind(kind)
    documents = []
    for d in docs:
        entry: dict[str, Any] = {
            "location": blob_name(d.text or ""),
            "language": language,
            "dataset": d.dataset or "Train",
        }
        if kind == "single":
            entry["class"] = {"category": d.labels[0]}
        else:
            entry["classes"] = [{"category": c} for c in d.labels]
        documents.append(entry)
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": kind_name,
            "storageInputContainerName": container,
            "projectName": project,
            "language": language,
            "multilingual": False,
        },
        "assets": {"projectKind": kind_name, "classes": [{"category": c} for c in classes], "documents": documents},
    }


def train_model(
    settings: Settings,
    client: AuthoringClient,
    docs: Sequence[LabelledDoc],
    options: TrainOptions,
    *,
    progress: Callable[[str], None] = print,
) -> TrainResult:
    """Validate, upload, import and train; Ctrl-C cancels the training job before re-raising.

    Raises:
        InputError: the data or a name breaks the service's rules (nothing is uploaded).
        ConflictError: another training job runs for the project and `wait_for_running` is off.
        JobFailedError: import or training failed on the service.
    """
    validate_resource_name("project", options.project)
    validate_resource_name("model", options.model_label)
    if not options.manual_split and not (options.split is not None and 1 <= options.split <= 99):
        raise InputError(f"--split {options.split}: the training percentage must be 1 to 99 (the rest is the test set)")
    report = validate_labelled(
        docs,
        kind=options.kind,
        known_classes=options.classes,
        split_percent=None if options.manual_split else options.split,
    )
    for warning in report.warnings:
        progress(f"warning: {warning}")
    conn = settings.storage.connection_string
    if conn is None:
        raise ConfigError(
            "no storage connection string; set AZURE_STORAGE_CONNECTION_STRING", key="storage.connection_string"
        )
    container = options.container or settings.storage.container
    uploaded = upload_documents(conn, container, [d.text or "" for d in docs])
    progress(f"blobs: {uploaded.uploaded} uploaded, {uploaded.existing} already in '{container}'")
    client.create_or_update_project(
        options.project,
        kind=options.kind,  # type: ignore[arg-type]  # a str the CLI limits to KINDS; project_kind() refuses others
        storage_container=container,
        language=options.language,
    )
    body = exported_project(options.project, options.kind, container, docs, report.classes, language=options.language)
    wait = partial_wait(client, options)
    wait(client.import_project(options.project, body), "import")
    location = _start_training(client, options, progress)
    job_id = job_id_from_location(location)
    last: list[str] = []

    def show(job: dict[str, Any]) -> None:
        # Polls every couple of seconds; print a line only when the progress moves.
        line = _training_progress(job)
        if not last or line != last[-1]:
            last.append(line)
            progress(line)

    try:
        wait(location, "training", show)
    except KeyboardInterrupt:
        progress(f"interrupted: cancelling training job {job_id}")
        client.cancel_training_job(options.project, job_id)
        _await_training_end(client, options, job_id, deadline=60.0)
        raise
    model = client.get_model(options.project, options.model_label)
    return TrainResult(model, job_id, report, uploaded.uploaded, uploaded.existing)


def partial_wait(client: AuthoringClient, options: TrainOptions) -> Callable[..., dict[str, Any]]:
    """A waiter bound to the client and the options' interval and deadline."""
    from ctc_spark.service import wait_for_operation

    def wait(location: str, what: str, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        log.info("waiting for %s job %s", what, job_id_from_location(location))
        result: dict[str, Any] = wait_for_operation(
            client,
            location,
            deadline_seconds=options.deadline_seconds,
            poll_interval=options.poll_interval,
            progress=progress,
        )
        return result

    return wait


def _start_training(client: AuthoringClient, options: TrainOptions, progress: Callable[[str], None]) -> str:
    def start() -> str:
        location: str = client.train(
            options.project,
            model_label=options.model_label,
            training_config_version=options.training_config_version,
            split=None if options.manual_split else options.split,
            manual_split=options.manual_split,
        )
        return location

    try:
        return start()
    except ConflictError:
        running = [
            j
            for j in client.list_training_jobs(options.project)
            if JobStatus.parse(j.get("status")) in (JobStatus.NOT_STARTED, JobStatus.RUNNING)
        ]
        if not options.wait_for_running or not running:
            raise ConflictError(
                f"project {options.project!r} already has a training job running"
                f"{' (' + running[0]['jobId'] + ')' if running else ''}; the service allows one at a time — "
                "wait for it, or pass --wait to wait and then train",
                status=409,
                code="Conflict",
            ) from None
        job = running[0]["jobId"]
        progress(f"waiting for running training job {job} before starting a new one")
        _await_training_end(client, options, job, deadline=options.deadline_seconds)
        return start()


def _await_training_end(client: AuthoringClient, options: TrainOptions, job_id: str, *, deadline: float) -> str:
    """Poll one training job until it leaves notStarted/running/cancelling; returns its final status."""
    import time

    stop = time.monotonic() + deadline
    while True:
        status = str(client.get_training_job(options.project, job_id).get("status"))
        parsed = JobStatus.parse(status)
        if parsed is None or not parsed.is_active or time.monotonic() > stop:
            return status
        time.sleep(options.poll_interval)


def _training_progress(job: dict[str, Any]) -> str:
    result = job.get("result") or {}
    training = result.get("trainingStatus") or {}
    evaluation = result.get("evaluationStatus") or {}
    return (
        f"training {job.get('status')}: {training.get('percentComplete', 0)}% trained, "
        f"{evaluation.get('percentComplete', 0)}% evaluated, ETA {result.get('estimatedEndDateTime', '?')}"
    )


def evaluate_model(client: AuthoringClient, project: str, model: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The evaluation summary and the per-document evaluation results."""
    return client.get_evaluation_summary(project, model), client.list_evaluation_results(project, model)


def deploy_model(
    client: AuthoringClient, project: str, model: str, deployment: str, *, poll_interval: float = 2.0
) -> dict[str, Any]:
    """Deploy `model` as `deployment`, wait for the job, and return the deployment's JSON."""
    from ctc_spark.service import wait_for_operation

    validate_resource_name("deployment", deployment)
    wait_for_operation(client, client.deploy(project, deployment, model), poll_interval=poll_interval)
    deployed: dict[str, Any] = client.get_deployment(project, deployment)
    return deployed


def swap_deployments(
    client: AuthoringClient, project: str, first: str, second: str, *, poll_interval: float = 2.0
) -> None:
    """Swap two deployments' models and wait for the job."""
    from ctc_spark.service import wait_for_operation

    wait_for_operation(client, client.swap_deployments(project, first, second), poll_interval=poll_interval)


def deployed_rows(client: AuthoringClient, project: str, names: Sequence[str], model: str | None) -> list[DeployedRow]:
    """The `deployments` rows of `names` as the service now has them, with the dates to warn about."""
    labels = {m.get("modelId"): m for m in client.list_models(project)}
    out = []
    for name in names:
        raw = client.get_deployment(project, name)
        m = labels.get(raw.get("modelId"), {})
        row = mt.deployment_row(
            project, name, raw, model_label=m.get("label") or model, model_expiration=m.get("modelExpirationDate")
        )
        dates = {
            f"deployment {name}": {"deploymentExpirationDate": raw.get("deploymentExpirationDate")},
            f"model {row['model_label']}": {"modelExpirationDate": row["model_expiration_date"]},
        }
        out.append(DeployedRow(row, dates))
    return out


@dataclass(frozen=True)
class DeployedRow:
    """A `deployments` row, and its expiry dates by what they belong to (for `expiry_warnings`)."""

    row: dict[str, Any]
    dates: dict[str, dict[str, Any]]


def expiry_warnings(what: str, dates: dict[str, Any], today: date) -> list[str]:
    """Warnings for each named date that falls within 30 days (or has passed)."""
    out = []
    for name, value in dates.items():
        when = mt.parse_date(value)
        if when is not None and when <= today + timedelta(days=_WARN_DAYS):
            if when < today:
                out.append(f"warning: {what} {name} expired on {when.isoformat()}")
            else:
                out.append(f"warning: {what} {name} expires on {when.isoformat()}, within {_WARN_DAYS} days")
    return out


def record_training(
    spark: Any, tables: TableLocation, options: TrainOptions, result: TrainResult, client: AuthoringClient
) -> dict[str, Any]:
    """Write `models`, `evaluations` and `evaluation_documents`; returns the evaluation summary."""
    split = "manual" if options.manual_split else f"{options.split}/{100 - (options.split or 80)}"
    row = mt.model_row(
        options.project,
        result.model,
        kind=options.kind,
        job_id=result.job_id,
        documents=result.report.documents,
        classes=list(result.report.classes),
        split=split,
    )
    mt.write_rows(spark, tables, mt.MODELS, [row])
    summary, docs = evaluate_model(client, options.project, options.model_label)
    # A retrained label replaces its evaluation: classes or test documents of the previous run must not linger.
    this_model = {"project_name": options.project, "model_label": options.model_label}
    mt.write_rows(
        spark,
        tables,
        mt.EVALUATIONS,
        mt.evaluation_rows(options.project, options.model_label, summary),
        replace=this_model,
    )
    mt.write_rows(
        spark,
        tables,
        mt.EVALUATION_DOCUMENTS,
        mt.evaluation_document_rows(options.project, options.model_label, docs),
        replace=this_model,
    )
    return summary
