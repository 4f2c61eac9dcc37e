"""The authoring client: projects, import/export, training, models, evaluation and deployments (sync)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from ctc_spark.config import ResourceSettings, ServiceSettings
from ctc_spark.errors import ConfigError, InvalidRequestError
from ctc_spark.service.models import CallStats
from ctc_spark.service.retry import RetryPolicy
from ctc_spark.service.transport import SyncSender
from ctc_spark.service.vocabulary import TaskKind, check_name, project_kind
from ctc_spark.service.wire import (
    AUTHORING_VERSIONS,
    Call,
    authoring_url,
    foreign_origin,
    on_endpoint,
    retry_after,
    segment,
    with_query,
)

__all__ = ["AuthoringClient"]

log = logging.getLogger(__name__)


def _project(name: str) -> str:
    return segment(check_name(name, "project"))


def _deployment(name: str) -> str:
    return segment(check_name(name, "deployment"))


def _label(name: str) -> str:
    return segment(check_name(name, "model"))


class AuthoringClient:
    """Synchronous authoring client; long-running calls return the Operation-Location to wait on."""

    def __init__(
        self,
        resource: ResourceSettings,
        service: ServiceSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        stats: CallStats | None = None,
        credential: Any = None,
        policy: RetryPolicy | None = None,
        **sender: Any,
    ) -> None:
        if service.authoring_api_version not in AUTHORING_VERSIONS:
            raise ConfigError(
                f"unsupported authoring api-version {service.authoring_api_version!r}; use one of "
                f"{', '.join(AUTHORING_VERSIONS)}",
                key="service.authoring_api_version",
            )
        self.version = service.authoring_api_version
        self._endpoint = resource.endpoint
        self._warned = False
        self._max_wait = service.max_retry_seconds
        self._sender = SyncSender(
            resource, service, transport=transport, stats=stats, credential=credential, policy=policy, **sender
        )

    def __repr__(self) -> str:
        return f"AuthoringClient(endpoint={self._endpoint!r}, api_version={self.version!r})"

    # -- plumbing -------------------------------------------------------------------------------------------
    def _url(self, path: str, **query: Any) -> str:
        return authoring_url(self._endpoint, self.version, path, query)

    def _json(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        response = self._sender.send(Call(method, self._url(path, **query), body))
        return response.json() if response.content else None

    def _lro(self, method: str, path: str, body: Any = None, *, idempotent: bool | None = None, **query: Any) -> str:
        response = self._sender.send(Call(method, self._url(path, **query), body), idempotent=idempotent)
        location: str | None = response.headers.get("operation-location")
        if not location:
            raise InvalidRequestError(f"{method} {path} answered {response.status_code} without Operation-Location")
        return location

    def _follow(self, url: str) -> str:
        """A URL the service (or a caller) handed back, on this resource's endpoint whatever host it named."""
        other = foreign_origin(self._endpoint, url)
        if other is not None and not self._warned:
            self._warned = True
            log.warning(
                "a service URL names %s, not this resource's endpoint %s; using the endpoint", other, self._endpoint
            )
        pinned = on_endpoint(self._endpoint, url)
        return pinned if "api-version=" in pinned else with_query(pinned, {"api-version": self.version})

    def _paged(self, path: str, **query: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = self._url(path, **query)
        while url:
            body = self._sender.send(Call("GET", url)).json()
            out.extend(body.get("value") or [])
            link = body.get("nextLink")
            url = with_query(self._follow(str(link)), {"api-version": self.version}) if link else None
        return out

    def get_operation(self, location: str) -> tuple[dict[str, Any], float | None]:
        """An operation's JSON and the Retry-After the service asked for (at most `service.max_retry_seconds`)."""
        response = self._sender.send(Call("GET", self._follow(location)))
        return response.json(), retry_after(response.headers, cap=self._max_wait)

    # -- projects -------------------------------------------------------------------------------------------
    def create_or_update_project(
        self,
        project: str,
        *,
        kind: TaskKind,
        storage_container: str,
        language: str = "en",
        multilingual: bool = False,
        description: str | None = None,
    ) -> dict[str, Any]:
        path = f"/{_project(project)}"
        body: dict[str, Any] = {
            "projectName": project,
            "projectKind": project_kind(kind),
            "language": language,
            "storageInputContainerName": storage_container,
            "multilingual": multilingual,
        }
        if description:
            body["description"] = description
        call = Call("PATCH", self._url(path), body, {"Content-Type": "application/merge-patch+json"})
        result: dict[str, Any] = self._sender.send(call).json()
        return result

    def get_project(self, project: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/{_project(project)}")
        return result

    def list_projects(self) -> list[dict[str, Any]]:
        return self._paged("")

    def delete_project(self, project: str) -> str:
        return self._lro("DELETE", f"/{_project(project)}")

    def import_project(self, project: str, exported: dict[str, Any]) -> str:
        return self._lro("POST", f"/{_project(project)}/:import", exported)

    def export_project(self, project: str) -> str:
        return self._lro("POST", f"/{_project(project)}/:export", None, stringIndexType="Utf16CodeUnit")

    def get_export_result(self, location: str) -> dict[str, Any]:
        job, _ = self.get_operation(location)
        url = job.get("resultUrl")
        if not url:
            raise InvalidRequestError("the export job has no resultUrl yet")
        result: dict[str, Any] = self._sender.send(Call("GET", self._follow(str(url)))).json()
        return result

    # -- training -------------------------------------------------------------------------------------------
    def train(
        self,
        project: str,
        *,
        model_label: str,
        training_config_version: str = "latest",
        split: int | None = 80,
        manual_split: bool = False,
    ) -> str:
        options: dict[str, Any] = (
            {"kind": "manual"}
            if manual_split
            else {
                "kind": "percentage",
                "trainingSplitPercentage": split or 80,
                "testingSplitPercentage": 100 - (split or 80),
            }
        )
        body = {
            "modelLabel": check_name(model_label, "model"),
            "trainingConfigVersion": training_config_version,
            "evaluationOptions": options,
        }
        return self._lro("POST", f"/{_project(project)}/:train", body)

    def get_training_job(self, project: str, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/{_project(project)}/train/jobs/{segment(job_id)}")
        return result

    def list_training_jobs(self, project: str) -> list[dict[str, Any]]:
        return self._paged(f"/{_project(project)}/train/jobs")

    def cancel_training_job(self, project: str, job_id: str) -> str:
        path = f"/{_project(project)}/train/jobs/{segment(job_id)}/:cancel"
        return self._lro("POST", path, idempotent=True)  # cancelling twice is harmless

    # -- models and evaluation --------------------------------------------------------------------------------
    def list_models(self, project: str) -> list[dict[str, Any]]:
        return self._paged(f"/{_project(project)}/models")

    def get_model(self, project: str, label: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/{_project(project)}/models/{_label(label)}")
        return result

    def delete_model(self, project: str, label: str) -> None:
        self._json("DELETE", f"/{_project(project)}/models/{_label(label)}")

    def get_evaluation_summary(self, project: str, label: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "GET", f"/{_project(project)}/models/{_label(label)}/evaluation/summary-result"
        )
        return result

    def list_evaluation_results(self, project: str, label: str) -> list[dict[str, Any]]:
        return self._paged(
            f"/{_project(project)}/models/{_label(label)}/evaluation/result", stringIndexType="Utf16CodeUnit"
        )

    # -- deployments ------------------------------------------------------------------------------------------
    def deploy(self, project: str, deployment: str, model_label: str) -> str:
        path = f"/{_project(project)}/deployments/{_deployment(deployment)}"
        return self._lro("PUT", path, {"trainedModelLabel": check_name(model_label, "model")})

    def get_deployment(self, project: str, deployment: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/{_project(project)}/deployments/{_deployment(deployment)}")
        return result

    def list_deployments(self, project: str) -> list[dict[str, Any]]:
        return self._paged(f"/{_project(project)}/deployments")

    def delete_deployment(self, project: str, deployment: str) -> str:
        return self._lro("DELETE", f"/{_project(project)}/deployments/{_deployment(deployment)}")

    def swap_deployments(self, project: str, first: str, second: str) -> str:
        body = {
            "firstDeploymentName": check_name(first, "deployment"),
            "secondDeploymentName": check_name(second, "deployment"),
        }
        return self._lro("POST", f"/{_project(project)}/deployments/:swap", body)

    def list_training_config_versions(self, kind: TaskKind) -> list[dict[str, Any]]:
        return self._paged("/global/training-config-versions", projectKind=project_kind(kind))

    def close(self) -> None:
        self._sender.close()

    def __enter__(self) -> AuthoringClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
