"""Authoring projects: validation of project, import and train bodies (pure) and their persistence in the Store."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ctc_spark.emulator.authoring_jobs import JsonStore, iso

__all__ = [
    "KINDS",
    "ApiProblem",
    "ProjectBook",
    "check_name",
    "exported_project",
    "parse_import",
    "parse_project",
    "parse_training",
]

KINDS = {"CustomSingleLabelClassification": "single", "CustomMultiLabelClassification": "multi"}
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,50}$")
_BAD_CLASS_CHARS = set(":$&%*()+~#/?")
_PROJECTS = "authoring-projects"
_ASSETS = "authoring-assets"
_EVALUATIONS = "authoring-evaluations"
_MIN_DOCUMENTS = 10


class ApiProblem(Exception):
    """A request the service would refuse: HTTP status plus Azure error code and message."""

    def __init__(self, status: int, code: str, message: str, target: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.target = status, code, message, target

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target:
            error["target"] = self.target
        return {"error": error}


def _invalid(message: str, target: str | None = None) -> ApiProblem:
    return ApiProblem(400, "InvalidArgument", message, target)


def check_name(value: object, what: str) -> str:
    """The name if it follows the service's naming rule (`[A-Za-z0-9_.-]`, at most 50), else 400."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise _invalid(f"{what} '{value}' is invalid: use 1-50 letters, digits, '_', '.' or '-'", what)
    return value


def _check_class(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 50 or _BAD_CLASS_CHARS & set(value):
        raise _invalid(f"class name '{value}' is invalid: 1-50 characters, none of : $ & % * ( ) + ~ # / ?", "class")
    return value


def parse_project(name: str, body: Mapping[str, Any], existing: Mapping[str, Any] | None, now: str) -> dict[str, Any]:
    """The ProjectDetails after a create-or-update PATCH; the kind and container cannot change once set."""
    check_name(name, "projectName")
    details: dict[str, Any] = dict(existing or {})
    for key in ("projectKind", "storageInputContainerName", "language", "multilingual", "description", "settings"):
        if key in body and body[key] is not None:
            details[key] = body[key]
    if existing and existing.get("projectKind") != details.get("projectKind"):
        raise _invalid("projectKind cannot change on an existing project", "projectKind")
    if details.get("projectKind") not in KINDS:
        raise _invalid(f"projectKind '{details.get('projectKind')}' is not a text classification kind", "projectKind")
    if not isinstance(details.get("storageInputContainerName"), str) or not details["storageInputContainerName"]:
        raise _invalid("storageInputContainerName is required", "storageInputContainerName")
    if not isinstance(details.get("language"), str) or not details["language"]:
        raise _invalid("language is required", "language")
    details.setdefault("multilingual", False)
    details["projectName"] = name
    details.setdefault("createdDateTime", now)
    details["lastModifiedDateTime"] = now
    return details


def parse_import(name: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(project metadata, normalized assets) from an ExportedProject; documents carry a `labels` list."""
    metadata = body.get("metadata")
    assets = body.get("assets")
    if not isinstance(metadata, Mapping) or not isinstance(assets, Mapping):
        raise _invalid("import body needs 'metadata' and 'assets' objects")
    kind_name = assets.get("projectKind") or metadata.get("projectKind")
    if kind_name not in KINDS:
        raise _invalid(f"projectKind '{kind_name}' is not a text classification kind", "projectKind")
    kind = KINDS[str(kind_name)]
    classes = [_check_class(c.get("category") if isinstance(c, Mapping) else None) for c in assets.get("classes", [])]
    if not classes or len(classes) > 200 or len(set(classes)) != len(classes):
        raise _invalid("assets.classes must list 1-200 distinct classes", "classes")
    documents = [_parse_document(doc, kind, set(classes), metadata) for doc in assets.get("documents", [])]
    locations = [d["location"] for d in documents]
    if len(set(locations)) != len(locations):
        raise _invalid("a document location appears twice", "documents")
    meta = {k: v for k, v in metadata.items() if k != "projectName"}
    meta["projectKind"] = kind_name
    return meta, {"projectKind": kind_name, "classes": classes, "documents": documents}


def _parse_document(doc: object, kind: str, classes: set[str], metadata: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get("location"), str) or not doc["location"]:
        raise _invalid("every document needs a 'location' (a .txt blob name)", "documents")
    location = doc["location"]
    if kind == "single":
        label = doc.get("class")
        if not isinstance(label, Mapping):
            raise _invalid(f"single-label document '{location}' needs a 'class' object", location)
        labels = [label.get("category")]
    else:
        raw = doc.get("classes", [])
        if not isinstance(raw, list):
            raise _invalid(f"multi-label document '{location}' needs a 'classes' array", location)
        labels = [c.get("category") if isinstance(c, Mapping) else None for c in raw]
    for label in labels:
        if label not in classes:
            raise _invalid(f"document '{location}' uses class '{label}' missing from assets.classes", location)
    dataset = doc.get("dataset") or "Train"
    if dataset not in ("Train", "Test"):
        raise _invalid(f"document '{location}' has dataset '{dataset}'; use Train or Test", location)
    return {
        "location": location,
        "language": doc.get("language") or metadata.get("language") or "en",
        "dataset": dataset,
        "labels": [str(label) for label in labels],
    }


def parse_training(
    body: Mapping[str, Any], assets: Mapping[str, Any] | None, known: Sequence[str] = ("2022-05-01",)
) -> dict[str, Any]:
    """The normalized TrainingJobDetails (modelLabel, trainingConfigVersion, evaluationOptions) or 400.

    `known` lists the training config versions in order; `latest` resolves to the last.
    """
    label = check_name(body.get("modelLabel"), "modelLabel")
    version = body.get("trainingConfigVersion") or "latest"
    known = list(known)
    if version == "latest":
        version = known[-1]
    if version not in known:
        raise _invalid(f"trainingConfigVersion '{version}' is not one of {known} or 'latest'", "trainingConfigVersion")
    options = dict(body.get("evaluationOptions") or {"kind": "percentage"})
    kind = options.get("kind", "percentage")
    if kind == "percentage":
        train = options.get("trainingSplitPercentage", 80 if "testingSplitPercentage" not in options else None)
        test = options.get("testingSplitPercentage", 100 - train if isinstance(train, int) else 20)
        if train is None:
            train = 100 - int(test)
        if not (isinstance(train, int) and isinstance(test, int) and train + test == 100 and 0 < train <= 100):
            raise _invalid("trainingSplitPercentage and testingSplitPercentage must be integers summing to 100")
        options = {"kind": "percentage", "trainingSplitPercentage": train, "testingSplitPercentage": test}
    elif kind == "manual":
        options = {"kind": "manual"}
    else:
        raise _invalid(f"evaluationOptions.kind '{kind}' must be 'percentage' or 'manual'", "evaluationOptions")
    if not assets or len(assets.get("documents", [])) < _MIN_DOCUMENTS:
        count = len(assets.get("documents", [])) if assets else 0
        raise _invalid(f"the project has {count} labelled documents; training needs at least {_MIN_DOCUMENTS}")
    return {"modelLabel": label, "trainingConfigVersion": version, "evaluationOptions": options}


def exported_project(details: Mapping[str, Any], assets: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ExportedProject body (projectFileVersion 2022-05-01) for a project and its imported assets."""
    kind = str(details["projectKind"])
    metadata = {
        k: details[k]
        for k in (
            "projectKind",
            "storageInputContainerName",
            "projectName",
            "language",
            "multilingual",
            "description",
            "settings",
        )
        if k in details
    }
    documents = []
    for doc in (assets or {}).get("documents", []):
        entry: dict[str, Any] = {"location": doc["location"], "language": doc["language"], "dataset": doc["dataset"]}
        if KINDS[kind] == "single":
            entry["class"] = {"category": doc["labels"][0]}
        else:
            entry["classes"] = [{"category": c} for c in doc["labels"]]
        documents.append(entry)
    classes = [{"category": c} for c in (assets or {}).get("classes", [])]
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": metadata,
        "assets": {"projectKind": kind, "classes": classes, "documents": documents},
    }


class ProjectBook:
    """Projects, their imported assets and their models' evaluations, persisted in the emulator's Store."""

    def __init__(self, store: JsonStore, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self.lock = threading.RLock()

    def now(self) -> str:
        return iso(datetime.fromtimestamp(self._clock(), timezone.utc))

    def get(self, name: str) -> dict[str, Any] | None:
        value = self._store.get(_PROJECTS, name)
        return dict(value) if value is not None else None

    def put(self, details: Mapping[str, Any]) -> None:
        self._store.put(_PROJECTS, str(details["projectName"]), dict(details))

    def touch(self, name: str, field: str) -> None:
        """Stamp `field` (e.g. lastTrainedDateTime) on an existing project."""
        with self.lock:
            details = self.get(name)
            if details is not None:
                details[field] = self.now()
                self.put(details)

    def list(self) -> list[dict[str, Any]]:
        return sorted((dict(v) for _, v in self._store.items(_PROJECTS)), key=lambda d: str(d["projectName"]))

    def assets(self, name: str) -> dict[str, Any] | None:
        value = self._store.get(_ASSETS, name)
        return dict(value) if value is not None else None

    def set_assets(self, name: str, assets: Mapping[str, Any]) -> None:
        self._store.put(_ASSETS, name, dict(assets))

    def evaluation(self, name: str, label: str) -> dict[str, Any] | None:
        value = self._store.get(_EVALUATIONS, f"{name}/{label}")
        return dict(value) if value is not None else None

    def set_evaluation(self, name: str, label: str, evaluation: Mapping[str, Any]) -> None:
        self._store.put(_EVALUATIONS, f"{name}/{label}", dict(evaluation))

    def delete_evaluation(self, name: str, label: str) -> None:
        self._store.delete(_EVALUATIONS, f"{name}/{label}")

    def delete(self, name: str) -> None:
        """Forget a project, its assets and every evaluation of its models."""
        with self.lock:
            for key, _ in list(self._store.items(_EVALUATIONS)):
                if str(key).startswith(f"{name}/"):
                    self._store.delete(_EVALUATIONS, key)
            self._store.delete(_ASSETS, name)
            self._store.delete(_PROJECTS, name)
