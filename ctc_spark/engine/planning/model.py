"""The deployment's model, read from the authoring API at the start of a run, and the skip key built on it.

By default (`skip_by="text+model"`) a document is skipped when `results` holds a row for the same project,
deployment, text (hash) and model: after the deployment is switched to another model, a re-run classifies
everything again. `skip_by="text"` skips by text alone, whatever model wrote the row (the old behaviour).

When the authoring read is refused (401/403, e.g. a key with prediction rights only): under `text+model`
the run stops before any analyze call, because it cannot know which rows are stale; under `text` it goes on
and its rows carry no model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from ctc_spark.config import ResourceSettings, ServiceSettings
from ctc_spark.config.choices import check_choice
from ctc_spark.engine.planning.retry import RetryErrors, done_condition
from ctc_spark.errors import AuthenticationError, ConfigError

if TYPE_CHECKING:
    import httpx
    from pyspark.sql import Column, DataFrame

__all__ = [
    "SKIP_BY",
    "DeploymentModel",
    "SkipBy",
    "agreed_model",
    "check_skip_by",
    "done_flag",
    "read_deployment_model",
    "runs_of_model",
]

log = logging.getLogger(__name__)

SkipBy = Literal["text+model", "text"]
SKIP_BY: tuple[SkipBy, ...] = ("text+model", "text")


@dataclass(frozen=True)
class DeploymentModel:
    """The model a deployment serves; all None when it could not be read (`skip_by="text"` only)."""

    label: str | None = None
    model_id: str | None = None
    deployed_at: datetime | None = None

    @classmethod
    def from_deployment(cls, body: Mapping[str, Any]) -> DeploymentModel:
        """From a GET deployment answer (`trainedModelLabel`, `modelId`, `lastDeployedDateTime`)."""
        label, model_id = body.get("trainedModelLabel"), body.get("modelId")
        return cls(
            str(label) if label else None,
            str(model_id) if model_id else None,
            _timestamp(body.get("lastDeployedDateTime")),
        )

    @property
    def known(self) -> bool:
        return self.label is not None or self.model_id is not None

    def __str__(self) -> str:
        if self.label is None:
            return f"an unlabelled model ({self.model_id})" if self.model_id else "an unknown model"
        return f"{self.label} ({self.model_id})" if self.model_id else self.label


def check_skip_by(value: str) -> SkipBy:
    """The value if it is a known skip key.

    Raises:
        ConfigError: anything else; names the value and the choices.
    """
    return check_choice(value, SKIP_BY, what="skip key", key="--skip-by")


def read_deployment_model(
    service: ServiceSettings,
    project: str,
    deployment: str,
    *,
    skip_by: SkipBy = "text+model",
    transport: httpx.BaseTransport | None = None,
) -> DeploymentModel:
    """The model behind `project`/`deployment`, read from every resource at once (each with its own key).

    A run's rows carry one model, so the resources must serve the same one: the same label (each resource trains
    its own copy, so model ids may differ; the first resource's id is the run's). The deployment GET names the
    `modelId`; its label comes from the project's models list (the deployment answer of the GA api-versions has
    no `trainedModelLabel`). A label that cannot be resolved stays None.

    Raises:
        ConfigError: two resources serve models with different labels; names each resource and its model.
        AuthenticationError: a read was refused under `skip_by="text+model"`; says how to go on.
        NotFoundError: the project or deployment does not exist on a resource.
    """
    resources = service.resources
    if len(resources) == 1:
        return _read_model(resources[0], service, project, deployment, skip_by=skip_by, transport=transport)
    with ThreadPoolExecutor(len(resources), thread_name_prefix="ctc-model") as pool:
        reads = [
            pool.submit(_read_model, r, service, project, deployment, skip_by=skip_by, transport=transport)
            for r in resources
        ]
    models = [read.result() for read in reads]  # the first failure, in the resources' order
    return agreed_model(f"{project}/{deployment}", [r.name for r in resources], models)


def agreed_model(deployment: str, names: Sequence[str], models: Sequence[DeploymentModel]) -> DeploymentModel:
    """The model that every resource (`names`, in order) serves: the first known one, when the known ones share
    a label (or, without labels, a model id); an unknown model when none is known.

    Raises:
        ConfigError: two known models differ; names each resource and its model.
    """
    known = [(name, model) for name, model in zip(names, models, strict=True) if model.known]
    if not known:
        return DeploymentModel()
    if len({model.label or model.model_id for _, model in known}) > 1:
        served = ", ".join(f"{name!r} serves {model}" for name, model in known)
        raise ConfigError(
            f"deployment {deployment} serves different models on its resources ({served}); a run's rows carry one "
            "model: deploy the same model label to every resource, or classify with one resource",
            key="service.resources",
        )
    return known[0][1]


def _read_model(
    resource: ResourceSettings,
    service: ServiceSettings,
    project: str,
    deployment: str,
    *,
    skip_by: SkipBy,
    transport: httpx.BaseTransport | None,
) -> DeploymentModel:
    """The model behind `project`/`deployment` on `resource` (`read_deployment_model`, one resource)."""
    from ctc_spark.service.authoring import AuthoringClient

    where = f"{project}/{deployment}" if len(service.resources) == 1 else f"{project}/{deployment} on {resource.name!r}"
    try:
        with AuthoringClient(resource, service, transport=transport) as client:
            body = client.get_deployment(project, deployment)
            if not body.get("trainedModelLabel") and body.get("modelId"):
                body = {**body, "trainedModelLabel": _label_of(client, project, str(body["modelId"]))}
    except AuthenticationError as exc:
        if skip_by == "text":
            log.warning(
                "could not read the model of %s (%s); skipping by text alone, rows carry no model", where, exc.status
            )
            return DeploymentModel()
        raise AuthenticationError(
            f"reading the model of deployment {where} from the authoring API was refused; the "
            "default skip key (text+model) needs it — grant the credentials authoring read rights, or pass "
            f"--skip-by text to skip by text alone (rows then carry no model). {exc.detail}",
            status=exc.status,
            code=exc.code,
            request_id=exc.request_id,
        ) from exc
    model = DeploymentModel.from_deployment(body)
    log.info("deployment %s serves %s", where, model)
    return model


def done_flag(
    columns: list[str], model: DeploymentModel, skip_by: SkipBy, retry_errors: RetryErrors = "transient"
) -> Column:
    """True on the `results` rows (with these `columns`) that count as done for this run: all of them by text,
    else those of `model`; less the error rows that `retry_errors` sends again (`engine/planning/retry.py`).

    A model is matched by its `model_id` (a retrained label gets a new id), or by its label without one.

    Rows written before `results` had model columns (or by a run that could not read the model) match no
    known model, so they are classified again under `text+model`.
    """
    from pyspark.sql import functions as F

    condition = done_condition(retry_errors)
    of_model = _model_flag(columns, model, skip_by)
    return of_model if condition is None else of_model & F.expr(condition)


def runs_of_model(rows: DataFrame, runs: DataFrame, model: DeploymentModel, skip_by: SkipBy) -> DataFrame:
    """The `rows` (with a `run_id`) written by runs of `model`; all of them when skipping by text."""
    if skip_by == "text":
        return rows
    if "model_id" not in runs.columns or not model.known:
        return rows.limit(0)
    of_model = runs.filter(_model_flag(runs.columns, model, skip_by)).select("run_id")
    return rows.join(of_model, "run_id", "left_semi")


def _model_flag(columns: list[str], model: DeploymentModel, skip_by: SkipBy) -> Column:
    """True on the rows (of `results` or `runs`) written with `model`: all of them when skipping by text."""
    from pyspark.sql import functions as F

    if skip_by == "text":
        return F.lit(True)
    if "model_id" not in columns or not model.known:
        return F.lit(False)
    if model.model_id is not None:
        return F.col("model_id") == F.lit(model.model_id)
    return F.col("model_label") == F.lit(model.label)


def _label_of(client: Any, project: str, model_id: str) -> str | None:
    for model in client.list_models(project):
        if model.get("modelId") == model_id:
            return str(model.get("label")) if model.get("label") else None
    return None


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
