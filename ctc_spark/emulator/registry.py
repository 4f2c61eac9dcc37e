"""Trained models and deployments per project, persisted through the Store; deployments resolve to classifiers."""

from __future__ import annotations

import pickle
import threading
from datetime import datetime, timezone
from typing import Any

from ctc_spark.emulator.classifier import TextClassifier
from ctc_spark.emulator.store import Store

__all__ = ["Registry"]

_MODELS, _BLOBS, _DEPLOYMENTS = "models", "model-blobs", "deployments"
_KINDS = {"single": "CustomSingleLabelClassification", "multi": "CustomMultiLabelClassification"}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Registry:
    """Thread-safe view of models and deployments; classifiers are cached in memory once loaded."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.RLock()
        self._cache: dict[str, TextClassifier] = {}

    def put_model(self, project: str, label: str, classifier: TextClassifier, meta: dict[str, Any]) -> None:
        key = f"{project}/{label}"
        record = {"projectKind": _KINDS[classifier.kind], **meta, "label": label}
        with self._lock:
            self._store.put_bytes(_BLOBS, key, pickle.dumps(classifier))
            self._store.put(_MODELS, key, record)
            self._cache[key] = classifier
            for name, dep in self._deployments(project).items():
                if dep.get("trainedModelLabel") == label:  # a retrained label serves its deployments at once
                    self._store.put(_DEPLOYMENTS, f"{project}/{name}", {**dep, "modelId": record.get("modelId")})

    def get_model(self, project: str, label: str) -> tuple[dict[str, Any], TextClassifier] | None:
        key = f"{project}/{label}"
        with self._lock:
            meta = self._store.get(_MODELS, key)
            if meta is None:
                return None
            if key not in self._cache:
                blob = self._store.get_bytes(_BLOBS, key)
                if blob is None:
                    return None
                self._cache[key] = pickle.loads(blob)  # our own state file, written by put_model
            return dict(meta), self._cache[key]

    def list_models(self, project: str) -> list[dict[str, Any]]:
        return [dict(v) for k, v in self._store.items(_MODELS) if k.startswith(f"{project}/")]

    def delete_model(self, project: str, label: str) -> bool:
        key = f"{project}/{label}"
        with self._lock:
            existed = self._store.get(_MODELS, key) is not None
            self._store.delete(_MODELS, key)
            self._store.delete(_BLOBS, key)
            self._cache.pop(key, None)
        return existed

    def deploy(self, project: str, deployment: str, label: str, *, expires: str) -> dict[str, Any]:
        with self._lock:
            meta = self._store.get(_MODELS, f"{project}/{label}") or {}
            record = {
                "deploymentName": deployment,
                "modelId": meta.get("modelId", label),
                "lastTrainedDateTime": meta.get("lastTrainedDateTime", _now()),
                "lastDeployedDateTime": _now(),
                "deploymentExpirationDate": expires,
                "modelTrainingConfigVersion": meta.get("modelTrainingConfigVersion", "2022-05-01"),
                "trainedModelLabel": label,
            }
            self._store.put(_DEPLOYMENTS, f"{project}/{deployment}", record)
        return _public(record)

    def get_deployment(self, project: str, deployment: str) -> dict[str, Any] | None:
        record = self._store.get(_DEPLOYMENTS, f"{project}/{deployment}")
        return None if record is None else _public(record)

    def list_deployments(self, project: str) -> list[dict[str, Any]]:
        return [_public(v) for v in self._deployments(project).values()]

    def delete_deployment(self, project: str, deployment: str) -> bool:
        with self._lock:
            existed = self._store.get(_DEPLOYMENTS, f"{project}/{deployment}") is not None
            self._store.delete(_DEPLOYMENTS, f"{project}/{deployment}")
        return existed

    def swap(self, project: str, first: str, second: str) -> None:
        with self._lock:
            a = self._store.get(_DEPLOYMENTS, f"{project}/{first}")
            b = self._store.get(_DEPLOYMENTS, f"{project}/{second}")
            if a is None or b is None:
                raise KeyError(first if a is None else second)
            self._store.put(_DEPLOYMENTS, f"{project}/{first}", {**b, "deploymentName": first})
            self._store.put(_DEPLOYMENTS, f"{project}/{second}", {**a, "deploymentName": second})

    def resolve(self, project: str, deployment: str) -> tuple[str, TextClassifier] | None:
        """(projectKind, classifier) serving `project/deployment`, or None."""
        record = self._store.get(_DEPLOYMENTS, f"{project}/{deployment}")
        if record is None:
            return None
        found = self.get_model(project, record["trainedModelLabel"])
        if found is None:
            return None
        return str(found[0]["projectKind"]), found[1]

    def _deployments(self, project: str) -> dict[str, dict[str, Any]]:
        return {k.split("/", 1)[1]: v for k, v in self._store.items(_DEPLOYMENTS) if k.startswith(f"{project}/")}


def _public(record: dict[str, Any]) -> dict[str, Any]:
    """The ProjectDeployment JSON: the service does not echo the trained model label."""
    return {k: v for k, v in record.items() if k != "trainedModelLabel"}
