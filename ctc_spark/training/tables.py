"""The training side's Delta tables — `models`, `evaluations`, `evaluation_documents`, `deployments` — and the
pure conversions from the service's JSON into their rows."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from pyspark.sql.types import (
    ArrayType,
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from ctc_spark.service.vocabulary import evaluation_body, evaluation_classes
from ctc_spark.service.wire import parse_datetime

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from ctc_spark.io.tables import TableLocation

__all__ = [
    "DEPLOYMENTS_SCHEMA",
    "EVALUATIONS_SCHEMA",
    "EVALUATION_DOCUMENTS_SCHEMA",
    "MODELS_SCHEMA",
    "deployment_row",
    "evaluation_document_rows",
    "evaluation_rows",
    "model_row",
    "parse_date",
    "write_rows",
]

MODELS, EVALUATIONS, EVALUATION_DOCUMENTS, DEPLOYMENTS = "models", "evaluations", "evaluation_documents", "deployments"

MODELS_SCHEMA = StructType(
    [
        StructField("project_name", StringType(), False),
        StructField("model_label", StringType(), False),
        StructField("model_id", StringType()),
        StructField("kind", StringType()),
        StructField("training_config_version", StringType()),
        StructField("trained_at", TimestampType()),
        StructField("training_duration_seconds", DoubleType()),
        StructField("model_expiration_date", DateType()),
        StructField("train_job_id", StringType()),
        StructField("documents", LongType()),
        StructField("classes", ArrayType(StringType())),
        StructField("split", StringType()),
        StructField("recorded_at", TimestampType()),
    ]
)

EVALUATIONS_SCHEMA = StructType(
    [
        StructField("project_name", StringType(), False),
        StructField("model_label", StringType(), False),
        StructField("scope", StringType(), False),  # class | micro | macro | confusion
        StructField("class_name", StringType()),
        StructField("predicted_class", StringType()),
        StructField("precision", DoubleType()),
        StructField("recall", DoubleType()),
        StructField("f1", DoubleType()),
        StructField("true_positives", LongType()),
        StructField("false_positives", LongType()),
        StructField("false_negatives", LongType()),
        StructField("true_negatives", LongType()),
        StructField("raw_value", DoubleType()),
        StructField("normalized_value", DoubleType()),
        StructField("recorded_at", TimestampType()),
    ]
)

EVALUATION_DOCUMENTS_SCHEMA = StructType(
    [
        StructField("project_name", StringType(), False),
        StructField("model_label", StringType(), False),
        StructField("location", StringType(), False),
        StructField("expected_classes", ArrayType(StringType())),
        StructField("predicted_classes", ArrayType(StringType())),
        StructField("correct", StringType()),
        StructField("recorded_at", TimestampType()),
    ]
)

DEPLOYMENTS_SCHEMA = StructType(
    [
        StructField("project_name", StringType(), False),
        StructField("deployment_name", StringType(), False),
        StructField("model_label", StringType()),
        StructField("model_id", StringType()),
        StructField("training_config_version", StringType()),
        StructField("deployed_at", TimestampType()),
        StructField("deployment_expiration_date", DateType()),
        StructField("model_expiration_date", DateType()),
        StructField("recorded_at", TimestampType()),
    ]
)

KEYS = {
    MODELS: ["project_name", "model_label"],
    EVALUATIONS: ["project_name", "model_label", "scope", "class_name", "predicted_class"],
    EVALUATION_DOCUMENTS: ["project_name", "model_label", "location"],
    DEPLOYMENTS: ["project_name", "deployment_name"],
}
SCHEMAS = {
    MODELS: MODELS_SCHEMA,
    EVALUATIONS: EVALUATIONS_SCHEMA,
    EVALUATION_DOCUMENTS: EVALUATION_DOCUMENTS_SCHEMA,
    DEPLOYMENTS: DEPLOYMENTS_SCHEMA,
}


def parse_date(value: Any) -> date | None:
    """A date from the service's `YYYY-MM-DD` or ISO datetime text; None when absent or unreadable."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def model_row(
    project: str,
    model: dict[str, Any],
    *,
    kind: str,
    job_id: str | None,
    documents: int | None,
    classes: list[str] | None,
    split: str | None,
) -> dict[str, Any]:
    """One `models` row from the service's ProjectTrainedModel JSON."""
    return {
        "project_name": project,
        "model_label": model.get("label"),
        "model_id": model.get("modelId"),
        "kind": kind,
        "training_config_version": model.get("modelTrainingConfigVersion"),
        "trained_at": parse_datetime(model.get("lastTrainedDateTime")),
        "training_duration_seconds": float(model.get("lastTrainingDurationInSeconds") or 0),
        "model_expiration_date": parse_date(model.get("modelExpirationDate")),
        "train_job_id": job_id,
        "documents": documents,
        "classes": classes,
        "split": split,
        "recorded_at": datetime.now(timezone.utc),
    }


def evaluation_rows(project: str, label: str, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """`evaluations` rows: one per class, micro, macro, and one per confusion-matrix cell (single-label)."""
    body = evaluation_body(summary)
    now = datetime.now(timezone.utc)
    base = {"project_name": project, "model_label": label, "predicted_class": "", "recorded_at": now}
    rows = []
    for name, m in sorted((body.get("classes") or {}).items()):
        rows.append(
            {
                **base,
                "scope": "class",
                "class_name": name,
                "precision": m.get("precision"),
                "recall": m.get("recall"),
                "f1": m.get("f1"),
                "true_positives": m.get("truePositiveCount"),
                "false_positives": m.get("falsePositiveCount"),
                "false_negatives": m.get("falseNegativeCount"),
                "true_negatives": m.get("trueNegativeCount"),
            }
        )
    for scope in ("micro", "macro"):
        rows.append(
            {
                **base,
                "scope": scope,
                "class_name": "",
                "precision": body.get(f"{scope}Precision"),
                "recall": body.get(f"{scope}Recall"),
                "f1": body.get(f"{scope}F1"),
            }
        )
    for expected, row in sorted((body.get("confusionMatrix") or {}).items()):
        for predicted, cell in sorted(row.items()):
            rows.append(
                {
                    **base,
                    "scope": "confusion",
                    "class_name": expected,
                    "predicted_class": predicted,
                    "raw_value": cell.get("rawValue"),
                    "normalized_value": cell.get("normalizedValue"),
                }
            )
    return rows


def evaluation_document_rows(project: str, label: str, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`evaluation_documents` rows from the per-document evaluation results."""
    now = datetime.now(timezone.utc)
    rows = []
    for r in results:
        expected, predicted = evaluation_classes(r)
        rows.append(
            {
                "project_name": project,
                "model_label": label,
                "location": r.get("location"),
                "expected_classes": expected,
                "predicted_classes": predicted,
                "correct": str(sorted(expected) == sorted(predicted)).lower(),
                "recorded_at": now,
            }
        )
    return rows


def deployment_row(
    project: str, name: str, deployment: dict[str, Any], *, model_label: str | None, model_expiration: Any = None
) -> dict[str, Any]:
    """One `deployments` row from the service's ProjectDeployment JSON."""
    return {
        "project_name": project,
        "deployment_name": name,
        "model_label": model_label,
        "model_id": deployment.get("modelId"),
        "training_config_version": deployment.get("modelTrainingConfigVersion"),
        "deployed_at": parse_datetime(deployment.get("lastDeployedDateTime")),
        "deployment_expiration_date": parse_date(deployment.get("deploymentExpirationDate")),
        "model_expiration_date": parse_date(model_expiration),
        "recorded_at": datetime.now(timezone.utc),
    }


def write_rows(
    spark: SparkSession,
    location: TableLocation,
    table: str,
    rows: list[dict[str, Any]],
    *,
    replace: dict[str, str] | None = None,
) -> None:
    """Create the table if needed and MERGE the rows on its keys (re-runs update, never duplicate).

    With `replace` (column -> value, e.g. one project's model), the rows are that slice's whole new content:
    older rows of the slice that this write did not touch (a class or test document of a previous training
    run) are deleted after the MERGE.
    """
    from ctc_spark.io.frames import local_frame
    from ctc_spark.io.tables import ensure_table, merge_rows

    schema = SCHEMAS[table]
    ensure_table(spark, location, table, schema)
    if rows:
        frame = local_frame(spark, rows, schema)
        merge_rows(spark, location, table, frame, KEYS[table])
    if replace:
        _delete_stale(spark, location, table, replace, min((r["recorded_at"] for r in rows), default=None))


def _delete_stale(
    spark: SparkSession, location: TableLocation, table: str, where: dict[str, str], written_at: datetime | None
) -> None:
    """DELETE the slice's rows older than this write, in plain SQL (`DeltaTable` needs Delta's Connect plugin)."""
    from ctc_spark.io.tables import delete_rows, quote_identifier, sql_literal

    condition = [f"{quote_identifier(column)} = {sql_literal(value)}" for column, value in where.items()]
    if written_at is not None:
        # Every row of one write carries the same recorded_at, so older ones are exactly the stale ones.
        condition.append(f"recorded_at < {sql_literal(written_at)}")
    delete_rows(spark, location, table, " AND ".join(condition) or "TRUE")
