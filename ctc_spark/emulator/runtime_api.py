"""The runtime API: analyze-text jobs for custom single- and multi-label classification.

A job's status is a pure function of the clock: notStarted until its queue time passes, running until its
latency passes, then its outcome. Results are computed at submit time and kept until they expire.
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ctc_spark.emulator.context import EmulatorContext
from ctc_spark.emulator.responses import azure_error, iso

__all__ = ["API_VERSIONS", "MAX_CHARS", "MAX_DOCS", "job_status", "routes"]

# The analyze-text versions whose custom-classification shape is unchanged since 2022-05-01 (the client's list).
API_VERSIONS = frozenset(
    {
        "2022-05-01",
        "2022-10-01-preview",
        "2023-04-01",
        "2023-04-15-preview",
        "2023-11-15-preview",
        "2024-11-01",
        "2024-11-15-preview",
        "2025-05-15-preview",
        "2025-11-01",
        "2025-11-15-preview",
        "2026-05-15-preview",
    }
)
MAX_DOCS, MAX_CHARS = 25, 125_000
_KINDS = {"CustomSingleLabelClassification": "single", "CustomMultiLabelClassification": "multi"}
_NS = "analyze-jobs"


def job_status(job: dict[str, Any], now: float) -> str:
    """The status a job reports at `now`."""
    if job.get("cancelled"):
        return "cancelled"
    if now < job["started_at"]:
        return "notStarted"
    if now < job["done_at"]:
        return "running"
    return {"failed": "failed", "partial": "partiallyCompleted"}.get(job["outcome"], "succeeded")


class _Problem(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _bad(
    message: str, inner: str = "InvalidParameterValue", status: int = 400, code: str = "InvalidArgument"
) -> _Problem:
    return _Problem(azure_error(status, code, message, inner_code=inner))


class AnalyzeJobs:
    """Submitted jobs: hot in memory, persisted in the Store so they survive a restart."""

    def __init__(self, ctx: EmulatorContext) -> None:
        self.ctx = ctx
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def load(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            job = self.ctx.store.get(_NS, job_id)
            if job is not None:
                with self._lock:
                    self._jobs[job_id] = job
        return job

    def save(self, job: dict[str, Any]) -> None:
        with self._lock:
            self._jobs[job["jobId"]] = job
        self.ctx.store.put(_NS, job["jobId"], job)

    def drop(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)
        self.ctx.store.delete(_NS, job_id)

    # -- submit -------------------------------------------------------------------------------------------
    def create(self, body: Any) -> dict[str, Any]:
        docs, task = _parse(body)
        limit = self.ctx.faults.profile.refuse_documents_over
        refused = [d for d in docs if limit and len(d["text"]) > limit]
        if refused:  # the service refuses the whole request for one document it will not take
            raise _bad(
                f"document {refused[0]['id']} has {len(refused[0]['text'])} characters; "
                f"the limit is {limit} (injected fault)",
                "InvalidDocument",
            )
        kind = _KINDS[task["kind"]]
        params = task.get("parameters") or {}
        project = params.get("projectName") or params.get("project-name")
        deployment = params.get("deploymentName") or params.get("deployment-name")
        if not project or not deployment:
            raise _bad("parameters.projectName and parameters.deploymentName are required")
        resolved = self.ctx.registry.resolve(str(project), str(deployment))
        if resolved is None:
            raise _Problem(
                azure_error(
                    404,
                    "NotFound",
                    f"deployment '{deployment}' of project '{project}' was not found",
                    inner_code="DeploymentNotFound",
                )
            )
        project_kind, model = resolved
        if _KINDS.get(project_kind) != kind:
            raise _bad(f"task kind {task['kind']} does not match project '{project}' of kind {project_kind}")
        valid = [d for d in docs if d["text"].strip()]
        predictions = dict(zip((d["id"] for d in valid), model.predict([d["text"] for d in valid]), strict=True))
        now = self.ctx.clock()
        latency = self.ctx.config.latency
        queue = latency.queue_seconds and latency.seconds(0, self.ctx.gauss())
        total = latency.seconds(len(docs), self.ctx.gauss())
        job = {
            "jobId": str(uuid.uuid4()),
            "displayName": body.get("displayName"),
            "created": now,
            "started_at": now + min(queue, total),
            "done_at": now + total,
            "expires_at": now + self.ctx.config.result_ttl_seconds,
            "kind": task["kind"],
            "taskName": str(task.get("taskName", "0")),
            "projectName": project,
            "deploymentName": deployment,
            "outcome": self.ctx.faults.on_job() or "ok",
            "order": [d["id"] for d in docs],
            "chars": {d["id"]: len(d["text"]) for d in docs},
            "predictions": {k: [[c, p] for c, p in v] for k, v in predictions.items()},
            "counted": False,
        }
        self.save(job)
        self.ctx.stats.add("submits")
        self.ctx.stats.add("jobs_submitted")
        return job

    # -- poll ---------------------------------------------------------------------------------------------
    def render(self, job: dict[str, Any], request: Request) -> dict[str, Any]:
        now = self.ctx.clock()
        status = job_status(job, now)
        out: dict[str, Any] = {
            "jobId": job["jobId"],
            "createdDateTime": iso(job["created"]),
            "lastUpdatedDateTime": iso(min(now, job["done_at"])),
            "expirationDateTime": iso(job["expires_at"]),
            "status": status,
            "errors": [],
        }
        if job.get("displayName"):
            out["displayName"] = job["displayName"]
        terminal = status in ("succeeded", "partiallyCompleted", "failed", "cancelled")
        item: dict[str, Any] = {
            "kind": f"{job['kind']}LROResults",
            "taskName": job["taskName"],
            "lastUpdateDateTime": iso(min(now, job["done_at"])),
        }
        failed = status in ("failed", "partiallyCompleted")
        tasks: dict[str, Any] = {
            "completed": 0,
            "failed": 0,
            "inProgress": 0 if terminal else 1,
            "total": 1,
            "items": [],
        }
        if status == "succeeded":
            self._count(job)
            page, next_link = self._page(job, request)
            item.update(status="succeeded", results=page)
            tasks.update(completed=1, items=[item])
            if next_link:
                out["nextLink"] = next_link
        elif failed:
            item["status"] = "failed"
            tasks.update(failed=1, items=[item])
            error = {"code": "InternalServerError", "message": "The task failed (injected fault)."}
            out["errors"] = [{**error, "target": "#/tasks/items/0"}] if status == "partiallyCompleted" else [error]
        elif status == "cancelled":
            item["status"] = "cancelled"
            tasks.update(items=[item])
        out["tasks"] = tasks
        return out

    def _count(self, job: dict[str, Any]) -> None:
        if job["counted"]:
            return
        job["counted"] = True
        self.save(job)
        self.ctx.stats.add("jobs_completed")
        self.ctx.stats.add("documents_classified", len(job["predictions"]))
        self.ctx.stats.add("text_records", sum(max(1, -(-job["chars"][i] // 1000)) for i in job["predictions"]))

    def _page(self, job: dict[str, Any], request: Request) -> tuple[dict[str, Any], str | None]:
        q = request.query_params
        top = int(q.get("$top") or q.get("top") or MAX_DOCS)
        skip = int(q.get("$skip") or q.get("skip") or 0)
        show_stats = str(q.get("showStats", "false")).lower() == "true"
        ids = job["order"][skip : skip + top]
        documents, errors = [], []
        for doc_id in ids:
            chars = job["chars"][doc_id]
            if doc_id not in job["predictions"]:
                errors.append(
                    {
                        "id": doc_id,
                        "error": {
                            "code": "InvalidArgument",
                            "message": "Invalid document in request.",
                            "innererror": {"code": "InvalidDocument", "message": "Document text is empty."},
                        },
                    }
                )
                continue
            doc: dict[str, Any] = {
                "id": doc_id,
                "class": [{"category": c, "confidenceScore": p} for c, p in job["predictions"][doc_id]],
                "warnings": [],
            }
            if show_stats:
                doc["statistics"] = {"charactersCount": chars, "transactionsCount": max(1, -(-chars // 1000))}
            documents.append(doc)
        page: dict[str, Any] = {
            "documents": documents,
            "errors": errors,
            "projectName": job["projectName"],
            "deploymentName": job["deploymentName"],
        }
        if show_stats:
            valid = len(job["predictions"])
            page["statistics"] = {
                "documentsCount": len(job["order"]),
                "validDocumentsCount": valid,
                "erroneousDocumentsCount": len(job["order"]) - valid,
                "transactionsCount": sum(max(1, -(-job["chars"][i] // 1000)) for i in job["predictions"]),
            }
        next_link = None
        if skip + top < len(job["order"]):
            query = {"api-version": q.get("api-version", "2023-04-01"), "$skip": skip + top, "$top": top}
            if show_stats:
                query["showStats"] = "true"
            next_link = f"{_base(request)}/language/analyze-text/jobs/{job['jobId']}?{urlencode(query)}"
        return page, next_link


def _parse(body: Any) -> tuple[list[dict[str, str]], dict[str, Any]]:
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", "InvalidRequestBodyFormat")
    docs = (body.get("analysisInput") or {}).get("documents")
    if not isinstance(docs, list) or not docs:
        raise _bad("analysisInput.documents must be a non-empty list", "MissingInputDocuments")
    tasks = body.get("tasks")
    if not isinstance(tasks, list) or len(tasks) != 1 or not isinstance(tasks[0], dict):
        raise _bad("exactly one task is supported by the emulator for custom classification")
    if tasks[0].get("kind") not in _KINDS:
        raise _bad(f"unsupported task kind {tasks[0].get('kind')!r}")
    if len(docs) > MAX_DOCS:
        raise _bad(
            f"Batch request contains too many records. Max {MAX_DOCS} records are permitted.", "InvalidDocumentBatch"
        )
    parsed = [{"id": str(d.get("id")), "text": str(d.get("text") or "")} for d in docs if isinstance(d, dict)]
    if len(parsed) != len(docs) or len({d["id"] for d in parsed}) != len(parsed):
        raise _bad("every document needs a unique id")
    chars = sum(len(d["text"]) for d in parsed)
    if chars > MAX_CHARS:
        raise _bad(
            f"Request Payload sent is too large to be processed ({chars} characters; limit {MAX_CHARS}).",
            "InvalidDocumentBatch",
        )
    return parsed, tasks[0]


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def routes(ctx: EmulatorContext) -> list[Route]:
    """Routes under /language/analyze-text."""
    jobs = AnalyzeJobs(ctx)

    def check_version(request: Request) -> str:
        version = request.query_params.get("api-version", "")
        if version not in API_VERSIONS:
            raise _bad(f"unsupported api-version {version!r}; supported: {', '.join(sorted(API_VERSIONS))}")
        return version

    async def submit(request: Request) -> Response:
        try:
            version = check_version(request)
            try:
                body = json.loads(await request.body())
            except ValueError:
                raise _bad("the request body is not valid JSON", "InvalidRequestBodyFormat") from None
            job = await run_in_threadpool(jobs.create, body)
        except _Problem as problem:
            return problem.response
        location = f"{_base(request)}/language/analyze-text/jobs/{job['jobId']}?api-version={version}"
        return Response(status_code=202, headers={"Operation-Location": location})

    def find(request: Request, job_id: str) -> dict[str, Any]:
        job = jobs.load(job_id)
        if job is not None and ctx.clock() >= job["expires_at"]:
            jobs.drop(job_id)
            job = None
        if job is None:
            raise _Problem(
                azure_error(
                    404,
                    "NotFound",
                    f"job '{job_id}' was not found or its results expired",
                    inner_code="OperationNotFound",
                )
            )
        return job

    async def get(request: Request) -> Response:
        try:
            check_version(request)
            job = find(request, request.path_params["job_ref"])
        except _Problem as problem:
            return problem.response
        ctx.stats.add("polls")
        return JSONResponse(jobs.render(job, request))

    async def cancel(request: Request) -> Response:
        ref = request.path_params["job_ref"]
        if not ref.endswith(":cancel"):
            return azure_error(404, "404", "Resource not found")
        try:
            version = check_version(request)
            job = find(request, ref[: -len(":cancel")])
        except _Problem as problem:
            return problem.response
        if job_status(job, ctx.clock()) in ("notStarted", "running"):
            job["cancelled"] = True
            jobs.save(job)
        ctx.stats.add("cancels")
        location = f"{_base(request)}/language/analyze-text/jobs/{job['jobId']}?api-version={version}"
        return Response(status_code=202, headers={"Operation-Location": location})

    return [
        Route("/language/analyze-text/jobs", submit, methods=["POST"]),
        Route("/language/analyze-text/jobs/{job_ref}", get, methods=["GET"]),
        Route("/language/analyze-text/jobs/{job_ref}", cancel, methods=["POST"]),
    ]
