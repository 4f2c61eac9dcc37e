"""Background training jobs: read blobs, split, train the real classifier, evaluate held-out docs, register."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ctc_spark.emulator.authoring_jobs import TERMINAL, JobBook, iso
from ctc_spark.emulator.authoring_projects import KINDS, ProjectBook
from ctc_spark.emulator.classifier import TextClassifier, train_classifier
from ctc_spark.emulator.evaluation import Kind, document_results, evaluation_summary
from ctc_spark.emulator.lifecycle import find_training_config
from ctc_spark.emulator.storage import BlobDocuments

if TYPE_CHECKING:
    from ctc_spark.emulator.context import EmulatorContext

__all__ = ["CANCELLED_STATUS", "Trainer", "split_documents"]

_log = logging.getLogger(__name__)
# The real service ends a cancelled training job as `cancelled`, which the Python authoring SDK's pollers do
# not know (they poll forever); the emulator ends it `failed` with code OperationCancelled so pollers stop.
CANCELLED_STATUS = "failed"
_TICK = 0.05
_TRAIN_SHARE = 0.8  # the part of the minimum duration reported as training rather than evaluation


def split_documents(
    documents: Sequence[Mapping[str, Any]], options: Mapping[str, Any], seed: int
) -> tuple[list[int], list[int]]:
    """(train, test) indexes: manual uses each doc's dataset; percentage splits the Train docs, seeded and stratified.

    Stratification groups documents by their first label so every class keeps about the same share in both sets.
    """
    if options.get("kind") == "manual":
        train = [i for i, d in enumerate(documents) if d.get("dataset", "Train") != "Test"]
        test = [i for i, d in enumerate(documents) if d.get("dataset") == "Test"]
        return train, test
    test_share = int(options.get("testingSplitPercentage", 20)) / 100.0
    groups: dict[str, list[int]] = defaultdict(list)
    for i, doc in enumerate(documents):
        if doc.get("dataset", "Train") != "Test":
            labels = sorted(doc.get("labels") or [])
            groups[labels[0] if labels else ""].append(i)
    rng = random.Random(seed)
    train, test = [], []
    for key in sorted(groups):
        members = groups[key][:]
        rng.shuffle(members)
        n_test = min(round(len(members) * test_share), max(len(members) - 1, 0))
        test.extend(members[:n_test])
        train.extend(members[n_test:])
    if not test and test_share > 0 and len(train) > 1:
        test.append(train.pop())
    return sorted(train), sorted(test)


_Mutation = Callable[[dict[str, Any]], None]  # applied to a job envelope by JobBook.update


class _Cancelled(Exception):
    pass


class Trainer:
    """Runs at most one training thread per project and records progress in the job envelope."""

    def __init__(self, ctx: EmulatorContext, jobs: JobBook, projects: ProjectBook, blobs: BlobDocuments) -> None:
        self._ctx = ctx
        self._jobs = jobs
        self._projects = projects
        self._blobs = blobs
        self._lock = threading.Lock()
        self._active: dict[str, tuple[str, threading.Event, threading.Thread]] = {}

    def active_job(self, project: str) -> str | None:
        """The id of the project's running training job, if any."""
        with self._lock:
            entry = self._active.get(project)
            return entry[0] if entry and entry[2].is_alive() else None

    def start(
        self, project: Mapping[str, Any], assets: Mapping[str, Any], request: Mapping[str, Any], path: str
    ) -> dict[str, Any] | None:
        """Create and start a training job; None when the project already has one running (409)."""
        name = str(project["projectName"])
        with self._lock:
            entry = self._active.get(name)
            if entry and entry[2].is_alive():
                return None
            now = self._jobs.now()
            result = {
                "modelLabel": request["modelLabel"],
                "trainingConfigVersion": request["trainingConfigVersion"],
                "estimatedEndDateTime": iso(now + timedelta(seconds=self._min_seconds() + 1)),
                "trainingStatus": {"percentComplete": 0, "status": "notStarted"},
                "evaluationStatus": {"percentComplete": 0, "status": "notStarted"},
            }
            record = self._jobs.create("train", name, path, result=result)
            cancel = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(record["job"]["jobId"], dict(project), dict(assets), dict(request), cancel),
                name=f"ctc-emulator-train-{name}",
                daemon=True,
            )
            self._active[name] = (record["job"]["jobId"], cancel, thread)
            thread.start()
            return record

    def cancel(self, project: str, job_id: str) -> bool:
        """Ask a running job to stop; False when it already finished."""
        with self._lock:
            entry = self._active.get(project)
            if not entry or entry[0] != job_id or not entry[2].is_alive():
                return False
            entry[1].set()
        self._jobs.update(job_id, lambda job: job.update(status="cancelling"))
        return True

    def fail_orphans(self) -> None:
        """Mark jobs left running by a previous emulator process as failed (their threads died with it)."""
        for project in self._projects.list():
            for record in self._jobs.list("train", str(project["projectName"])):
                if record["job"]["status"] not in TERMINAL:
                    self._jobs.update(record["job"]["jobId"], _fail("EmulatorRestarted", "the emulator restarted"))

    def _min_seconds(self) -> float:
        return float(self._ctx.config.training_seconds)

    def _run(
        self,
        job_id: str,
        project: dict[str, Any],
        assets: dict[str, Any],
        request: dict[str, Any],
        cancel: threading.Event,
    ) -> None:
        started = time.monotonic()
        try:
            self._train(job_id, project, assets, request, cancel, started)
        except _Cancelled:
            self._finish(job_id, _fail("OperationCancelled", "the training job was cancelled", cancelled=True))
        except Exception as exc:  # a job must end failed, whatever broke inside it
            _log.warning("training job %s failed: %s", job_id, type(exc).__name__)
            self._finish(job_id, _fail("TrainingFailed", str(exc)))

    def _finish(self, job_id: str, mutate: _Mutation) -> None:
        try:
            self._jobs.update(job_id, mutate)
        except Exception:  # the emulator stopped (store closed) under a running job: nothing left to record
            _log.debug("training job %s outlived its emulator", job_id)

    def _train(
        self,
        job_id: str,
        project: dict[str, Any],
        assets: dict[str, Any],
        request: dict[str, Any],
        cancel: threading.Event,
        started: float,
    ) -> None:
        name, kind = str(project["projectName"]), _kind(str(assets["projectKind"]))
        start_iso = iso(self._jobs.now())

        def running(job: dict[str, Any]) -> None:
            job["status"] = "running"
            job["result"]["trainingStatus"] = {"percentComplete": 1, "startDateTime": start_iso, "status": "running"}

        self._jobs.update(job_id, running)
        documents = list(assets["documents"])
        texts_by_location = self._blobs.read_texts(
            str(project["storageInputContainerName"]), [d["location"] for d in documents]
        )
        self._check(cancel)
        train_idx, test_idx = split_documents(documents, request["evaluationOptions"], self._seed())
        if not train_idx:
            raise ValueError("the training split is empty; label documents into the Train dataset")
        classifier = train_classifier(
            [texts_by_location[documents[i]["location"]] for i in train_idx],
            [documents[i]["labels"] for i in train_idx],
            kind=kind,
            seed=self._seed(),
        )
        self._check(cancel)
        test_docs = [documents[i] for i in test_idx]
        expected = [d["labels"] for d in test_docs]
        predictions = classifier.predict([texts_by_location[d["location"]] for d in test_docs]) if test_docs else []
        predicted = [[category for category, _ in row] for row in predictions]
        evaluation = {
            "summary": evaluation_summary(kind, assets["classes"], expected, predicted, request["evaluationOptions"]),
            "documents": document_results(kind, test_docs, expected, predicted),
        }
        self._wait_min_duration(job_id, started, cancel)
        self._publish(job_id, name, kind, classifier, evaluation, request, started)

    def _publish(
        self,
        job_id: str,
        name: str,
        kind: str,
        classifier: TextClassifier,
        evaluation: dict[str, Any],
        request: dict[str, Any],
        started: float,
    ) -> None:
        with self._projects.lock:
            if self._projects.get(name) is None:
                raise ValueError(f"project '{name}' was deleted while training")
            now = self._jobs.now()
            label = request["modelLabel"]
            meta = {
                "label": label,
                "modelId": f"{label}-{now.strftime('%Y%m%dT%H%M%S')}-{job_id[:8]}",
                "lastTrainedDateTime": iso(now),
                "lastTrainingDurationInSeconds": max(1, round(time.monotonic() - started)),
                "modelExpirationDate": find_training_config(
                    self._ctx.training_configs(), request["trainingConfigVersion"]
                ).model_expiration.isoformat(),
                "modelTrainingConfigVersion": request["trainingConfigVersion"],
                "hasSnapshot": True,
                "projectKind": "CustomSingleLabelClassification"
                if kind == "single"
                else "CustomMultiLabelClassification",
            }
            self._projects.set_evaluation(name, label, evaluation)
            self._ctx.registry.put_model(name, label, classifier, meta)
            self._projects.touch(name, "lastTrainedDateTime")
        end = iso(now)

        def done(job: dict[str, Any]) -> None:
            job["status"] = "succeeded"
            result = job["result"]
            result["trainingStatus"].update(percentComplete=100, status="succeeded", endDateTime=end)
            result["evaluationStatus"] = {
                "percentComplete": 100,
                "startDateTime": result["evaluationStatus"].get("startDateTime", end),
                "endDateTime": end,
                "status": "succeeded",
            }
            result["estimatedEndDateTime"] = end

        self._jobs.update(job_id, done)

    def _wait_min_duration(self, job_id: str, started: float, cancel: threading.Event) -> None:
        total = self._min_seconds()
        last = -1
        while True:
            elapsed = time.monotonic() - started
            percent = int(min(99, 100 * elapsed / total)) if total > 0 else 99
            if percent != last:
                self._jobs.update(job_id, _progress(percent, self._jobs.now()))
                last = percent
            if elapsed >= total:
                return
            if cancel.wait(min(_TICK, total - elapsed)):
                raise _Cancelled

    def _check(self, cancel: threading.Event) -> None:
        if cancel.is_set():
            raise _Cancelled

    def _seed(self) -> int:
        return int(self._ctx.config.seed)


def _progress(percent: int, now: datetime) -> _Mutation:
    def apply(job: dict[str, Any]) -> None:
        result = job["result"]
        training = min(100, int(percent / _TRAIN_SHARE))
        result["trainingStatus"]["percentComplete"] = training
        if training >= 100:
            result["trainingStatus"].setdefault("endDateTime", iso(now))
            result["trainingStatus"]["status"] = "succeeded"
            evaluation = result["evaluationStatus"]
            evaluation.setdefault("startDateTime", iso(now))
            evaluation["status"] = "running"
            evaluation["percentComplete"] = int(100 * (percent / 100 - _TRAIN_SHARE) / (1 - _TRAIN_SHARE))

    return apply


def _fail(code: str, message: str, *, cancelled: bool = False) -> _Mutation:
    def apply(job: dict[str, Any]) -> None:
        job["status"] = CANCELLED_STATUS if cancelled else "failed"
        job["errors"] = [{"code": code, "message": message}]
        result = job.get("result")
        if isinstance(result, dict):
            for part in ("trainingStatus", "evaluationStatus"):
                status = result.setdefault(part, {})
                if status.get("status") != "succeeded":
                    status["status"] = "cancelled" if cancelled else "failed"

    return apply


def _kind(project_kind: str) -> Kind:
    return "multi" if KINDS[project_kind] == "multi" else "single"
