"""The authoring REST API under `/language/authoring/analyze-text`: projects, training, models, deployments."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ctc_spark.emulator.authoring_jobs import JobBook
from ctc_spark.emulator.authoring_projects import (
    KINDS,
    ApiProblem,
    ProjectBook,
    check_name,
    exported_project,
    parse_import,
    parse_project,
    parse_training,
)
from ctc_spark.emulator.lifecycle import find_training_config
from ctc_spark.emulator.storage import BlobDocuments
from ctc_spark.emulator.trainer import Trainer

if TYPE_CHECKING:
    from ctc_spark.emulator.context import EmulatorContext

__all__ = ["API_VERSIONS", "AuthoringService", "routes"]

API_VERSIONS = frozenset(
    {
        "2022-05-01",
        "2022-10-01-preview",
        "2023-04-01",
        "2023-04-15-preview",
        "2023-11-15-preview",
        "2024-11-15-preview",
        "2025-05-15-preview",
        "2025-11-15-preview",
    }
)
ROOT = "/language/authoring/analyze-text"
_MAX_MODELS = 10
_MAX_DEPLOYMENTS = 10
_MODEL_FIELDS = (
    "label",
    "modelId",
    "lastTrainedDateTime",
    "lastTrainingDurationInSeconds",
    "modelExpirationDate",
    "modelTrainingConfigVersion",
    "hasSnapshot",
)

Handler = Callable[[Request, Any], Response]


class AuthoringService:
    """The authoring state (projects, jobs, trainer) over one EmulatorContext; handlers are synchronous."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self.jobs = JobBook(ctx.store, ctx.clock)
        self.projects = ProjectBook(ctx.store, ctx.clock)
        self.blobs = BlobDocuments(ctx.config.storage_connection_string)
        self.trainer = Trainer(ctx, self.jobs, self.projects, self.blobs)
        self.trainer.fail_orphans()

    # -- helpers ---------------------------------------------------------------------------------------------
    def project(self, name: str) -> dict[str, Any]:
        details = self.projects.get(name)
        if details is None:
            raise ApiProblem(404, "ProjectNotFound", f"project '{name}' does not exist", name)
        return details

    def accepted(self, request: Request, record: Mapping[str, Any]) -> Response:
        return Response(status_code=202, headers={"Operation-Location": _absolute(request, str(record["path"]))})

    def job(self, request: Request, kind: str, *, global_: bool = False) -> Response:
        # A failed import of a new project leaves a job but no project, so look the job up by name only.
        project = None if global_ else request.path_params["project"]
        record = self.jobs.get(request.path_params["job"], kind=kind, project=project)
        if record is None:
            raise ApiProblem(404, "NotFound", f"{kind} job '{request.path_params['job']}' does not exist")
        return JSONResponse(record["job"])

    # -- projects --------------------------------------------------------------------------------------------
    def list_projects(self, request: Request, body: Any) -> Response:
        return JSONResponse({"value": self.projects.list()})

    def patch_project(self, request: Request, body: Any) -> Response:
        name = request.path_params["project"]
        with self.projects.lock:
            existing = self.projects.get(name)
            details = parse_project(name, _object(body), existing, self.projects.now())
            self.projects.put(details)
        return JSONResponse(details, status_code=200 if existing else 201)

    def get_project(self, request: Request, body: Any) -> Response:
        return JSONResponse(self.project(request.path_params["project"]))

    def delete_project(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        active = self.trainer.active_job(name)
        if active:
            self.trainer.cancel(name, active)
        registry = self.ctx.registry
        for deployment in registry.list_deployments(name):
            registry.delete_deployment(name, deployment["deploymentName"])
        for model in registry.list_models(name):
            registry.delete_model(name, model["label"])
        self.projects.delete(name)
        self.jobs.drop_project(name)
        record = self.jobs.create("delete-project", name, "/projects/global/deletion-jobs", status="succeeded")
        return self.accepted(request, record)

    # -- import / export -------------------------------------------------------------------------------------
    def import_project(self, request: Request, body: Any) -> Response:
        name = check_name(request.path_params["project"], "projectName")
        metadata, assets = parse_import(name, _object(body))
        with self.projects.lock:
            existing = self.projects.get(name)
            details = parse_project(name, metadata, existing, self.projects.now())
            problems = self.blobs.check(
                details["storageInputContainerName"], [d["location"] for d in assets["documents"]]
            )
            if problems:
                errors = [{"code": p.code, "message": p.message, "target": p.target} for p in problems]
                record = self.jobs.create(
                    "import", name, f"/projects/{name}/import/jobs", status="failed", errors=errors
                )
                return self.accepted(request, record)
            self.projects.put(details)
            self.projects.set_assets(name, assets)
        record = self.jobs.create("import", name, f"/projects/{name}/import/jobs", status="succeeded")
        return self.accepted(request, record)

    def export_project(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        record = self.jobs.create("export", name, f"/projects/{name}/export/jobs", status="succeeded")
        result_url = _absolute(request, f"{record['path']}/result")
        record = self.jobs.update(record["job"]["jobId"], lambda job: job.update(resultUrl=result_url))
        return self.accepted(request, record)

    def export_result(self, request: Request, body: Any) -> Response:
        details = self.project(request.path_params["project"])
        if self.jobs.get(request.path_params["job"], kind="export", project=details["projectName"]) is None:
            raise ApiProblem(404, "NotFound", f"export job '{request.path_params['job']}' does not exist")
        return JSONResponse(exported_project(details, self.projects.assets(details["projectName"])))

    # -- training --------------------------------------------------------------------------------------------
    def train(self, request: Request, body: Any) -> Response:
        details = self.project(request.path_params["project"])
        name = details["projectName"]
        known = [c.version for c in self.ctx.training_configs()]
        training = parse_training(_object(body), self.projects.assets(name), known)
        labels = {m["label"] for m in self.ctx.registry.list_models(name)}
        if training["modelLabel"] not in labels and len(labels) >= _MAX_MODELS:
            raise ApiProblem(400, "InvalidArgument", f"project '{name}' already has {_MAX_MODELS} trained models")
        record = self.trainer.start(details, self.projects.assets(name) or {}, training, f"/projects/{name}/train/jobs")
        if record is None:
            raise ApiProblem(409, "Conflict", f"project '{name}' already has a training job running; wait or cancel it")
        return self.accepted(request, record)

    def list_training_jobs(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        return JSONResponse({"value": [r["job"] for r in self.jobs.list("train", name)]})

    def cancel_training(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        record = self.jobs.get(request.path_params["job"], kind="train", project=name)
        if record is None:
            raise ApiProblem(404, "NotFound", f"training job '{request.path_params['job']}' does not exist")
        self.trainer.cancel(name, record["job"]["jobId"])
        return self.accepted(request, record)

    def training_config_versions(self, request: Request, body: Any) -> Response:
        kind = request.query_params.get("projectKind")
        if kind not in KINDS:
            raise ApiProblem(
                400, "InvalidArgument", f"projectKind '{kind}' is not a text classification kind", "projectKind"
            )
        return JSONResponse({"value": [c.public() for c in self.ctx.training_configs()]})

    def languages(self, request: Request, body: Any) -> Response:
        names = {"en": "English", "en-us": "English (US)", "de": "German", "fr": "French", "es": "Spanish"}
        return JSONResponse({"value": [{"languageName": v, "languageCode": k} for k, v in names.items()]})

    # -- models ----------------------------------------------------------------------------------------------
    def model_meta(self, name: str, label: str) -> dict[str, Any]:
        found = self.ctx.registry.get_model(name, label)
        if found is None:
            raise ApiProblem(404, "ModelNotFound", f"model '{label}' does not exist in project '{name}'", label)
        return dict(found[0])

    def list_models(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        return JSONResponse({"value": [_model_json(m) for m in self.ctx.registry.list_models(name)]})

    def get_model(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        return JSONResponse(_model_json(self.model_meta(name, request.path_params["label"])))

    def delete_model(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        label = request.path_params["label"]
        self.model_meta(name, label)
        self.ctx.registry.delete_model(name, label)
        self.projects.delete_evaluation(name, label)
        return Response(status_code=204)

    def evaluation(self, name: str, label: str) -> dict[str, Any]:
        self.model_meta(name, label)
        found = self.projects.evaluation(name, label)
        if found is None:
            raise ApiProblem(404, "NotFound", f"model '{label}' has no evaluation", label)
        return found

    def evaluation_summary(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        return JSONResponse(self.evaluation(name, request.path_params["label"])["summary"])

    def evaluation_results(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        rows = self.evaluation(name, request.path_params["label"])["documents"]
        return JSONResponse(_page(request, rows))

    # -- deployments -----------------------------------------------------------------------------------------
    def deployment_or_404(self, name: str, deployment: str) -> dict[str, Any]:
        found = self.ctx.registry.get_deployment(name, deployment)
        if found is None:
            raise ApiProblem(
                404, "DeploymentNotFound", f"deployment '{deployment}' does not exist in '{name}'", deployment
            )
        return dict(found)

    def put_deployment(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        deployment = check_name(request.path_params["deployment"], "deploymentName")
        label = _object(body).get("trainedModelLabel")
        if not isinstance(label, str):
            raise ApiProblem(400, "InvalidArgument", "trainedModelLabel is required", "trainedModelLabel")
        existing = {d["deploymentName"] for d in self.ctx.registry.list_deployments(name)}
        if deployment not in existing and len(existing) >= _MAX_DEPLOYMENTS:
            raise ApiProblem(400, "InvalidArgument", f"project '{name}' already has {_MAX_DEPLOYMENTS} deployments")
        meta = self.model_meta(name, label)
        config = find_training_config(self.ctx.training_configs(), str(meta.get("modelTrainingConfigVersion")))
        self.ctx.registry.deploy(name, deployment, label, expires=config.deployment_expiration.isoformat())
        self.projects.touch(name, "lastDeployedDateTime")
        path = f"/projects/{name}/deployments/{deployment}/jobs"
        return self.accepted(request, self.jobs.create("deployment", name, path, status="succeeded"))

    def get_deployment(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        return JSONResponse(self.deployment_or_404(name, request.path_params["deployment"]))

    def list_deployments(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        return JSONResponse({"value": [dict(d) for d in self.ctx.registry.list_deployments(name)]})

    def delete_deployment(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        deployment = request.path_params["deployment"]
        self.deployment_or_404(name, deployment)
        self.ctx.registry.delete_deployment(name, deployment)
        path = f"/projects/{name}/deployments/{deployment}/jobs"
        return self.accepted(request, self.jobs.create("deployment", name, path, status="succeeded"))

    def swap(self, request: Request, body: Any) -> Response:
        name = self.project(request.path_params["project"])["projectName"]
        payload = _object(body)
        first, second = payload.get("firstDeploymentName"), payload.get("secondDeploymentName")
        if not isinstance(first, str) or not isinstance(second, str) or first == second:
            raise ApiProblem(
                400, "InvalidArgument", "firstDeploymentName and secondDeploymentName must name two deployments"
            )
        self.deployment_or_404(name, first)
        self.deployment_or_404(name, second)
        self.ctx.registry.swap(name, first, second)
        path = f"/projects/{name}/deployments/swap/jobs"
        return self.accepted(request, self.jobs.create("swap", name, path, status="succeeded"))

    def deployment_job(self, request: Request, body: Any) -> Response:
        return self.job(request, "deployment")


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiProblem(400, "InvalidRequestBodyFormat", "the request body must be a JSON object")
    return body


def _absolute(request: Request, path: str) -> str:
    version = request.query_params.get("api-version", "2023-04-01")
    return f"{request.url.scheme}://{request.url.netloc}{ROOT}{path}?api-version={version}"


def _model_json(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in _MODEL_FIELDS if k in meta}


def _page(request: Request, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One page of `rows` honouring top/skip/maxpagesize, with a nextLink while more remain."""
    query = request.query_params
    skip = _int_param(query.get("skip") or query.get("$skip"), 0)
    top = _int_param(query.get("top") or query.get("$top"), len(rows))
    size = _int_param(query.get("maxpagesize"), 50)
    end = min(len(rows), top, skip + size) if top >= 0 else skip
    page: dict[str, Any] = {"value": rows[skip:end]}
    if end < min(len(rows), top):
        params = {k: v for k, v in query.items() if k not in ("skip", "$skip")}
        params["skip"] = str(end)
        link = "&".join(f"{k}={v}" for k, v in params.items())
        page["nextLink"] = f"{request.url.scheme}://{request.url.netloc}{request.url.path}?{link}"
    return page


def _int_param(value: str | None, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ApiProblem(400, "InvalidArgument", f"'{value}' is not an integer") from None
    if number < 0:
        raise ApiProblem(400, "InvalidArgument", f"'{value}' must not be negative")
    return number


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            version = request.query_params.get("api-version")
            if version not in API_VERSIONS:
                raise ApiProblem(404, "404", f"Resource not found (api-version '{version}' is not supported)")
            try:
                body = json.loads(raw) if raw.strip() else {}
            except (ValueError, UnicodeDecodeError):
                raise ApiProblem(400, "InvalidRequestBodyFormat", "the request body is not valid JSON") from None
            return await run_in_threadpool(handler, request, body)
        except ApiProblem as problem:
            return JSONResponse(problem.body(), status_code=problem.status)

    return endpoint


def routes(ctx: EmulatorContext) -> list[Route]:
    """Starlette routes relative to `/language/authoring/analyze-text`, bound to one emulator context."""
    s = AuthoringService(ctx)
    p = "/projects/{project}"
    table: list[tuple[str, str, Handler]] = [
        ("/projects", "GET", s.list_projects),
        ("/projects/global/deletion-jobs/{job}", "GET", lambda r, b: s.job(r, "delete-project", global_=True)),
        ("/projects/global/training-config-versions", "GET", s.training_config_versions),
        ("/projects/global/languages", "GET", s.languages),
        (p, "PATCH", s.patch_project),
        (p, "GET", s.get_project),
        (p, "DELETE", s.delete_project),
        (f"{p}/:import", "POST", s.import_project),
        (f"{p}/import/jobs/{{job}}", "GET", lambda r, b: s.job(r, "import")),
        (f"{p}/:export", "POST", s.export_project),
        (f"{p}/export/jobs/{{job}}", "GET", lambda r, b: s.job(r, "export")),
        (f"{p}/export/jobs/{{job}}/result", "GET", s.export_result),
        (f"{p}/:train", "POST", s.train),
        (f"{p}/train/jobs", "GET", s.list_training_jobs),
        (f"{p}/train/jobs/{{job}}", "GET", lambda r, b: s.job(r, "train")),
        (f"{p}/train/jobs/{{job}}/:cancel", "POST", s.cancel_training),
        (f"{p}/models", "GET", s.list_models),
        (f"{p}/models/{{label}}", "GET", s.get_model),
        (f"{p}/models/{{label}}", "DELETE", s.delete_model),
        (f"{p}/models/{{label}}/evaluation/summary-result", "GET", s.evaluation_summary),
        (f"{p}/models/{{label}}/evaluation/result", "GET", s.evaluation_results),
        (f"{p}/deployments", "GET", s.list_deployments),
        (f"{p}/deployments/:swap", "POST", s.swap),
        (f"{p}/deployments/swap/jobs/{{job}}", "GET", lambda r, b: s.job(r, "swap")),
        (f"{p}/deployments/{{deployment}}", "PUT", s.put_deployment),
        (f"{p}/deployments/{{deployment}}", "GET", s.get_deployment),
        (f"{p}/deployments/{{deployment}}", "DELETE", s.delete_deployment),
        (f"{p}/deployments/{{deployment}}/jobs/{{job}}", "GET", s.deployment_job),
    ]
    grouped: dict[str, list[tuple[str, Handler]]] = {}
    for path, method, handler in table:
        grouped.setdefault(path, []).append((method, handler))
    return [_route(path, handlers) for path, handlers in grouped.items()]


def _route(path: str, handlers: list[tuple[str, Handler]]) -> Route:
    by_method = {method: _endpoint(handler) for method, handler in handlers}

    async def dispatch(request: Request) -> Response:
        return await by_method[request.method](request)

    return Route(path, dispatch, methods=list(by_method))
