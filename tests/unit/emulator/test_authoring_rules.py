"""Pure authoring rules: import/train body validation, naming, and the seeded stratified train/test split."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ctc_spark.emulator.authoring_jobs import new_job_id
from ctc_spark.emulator.authoring_projects import (
    ApiProblem,
    check_name,
    exported_project,
    parse_import,
    parse_training,
)
from ctc_spark.emulator.trainer import split_documents


def _docs(n_per_class: int, classes: tuple[str, ...] = ("A", "B", "C")) -> list[dict[str, Any]]:
    return [
        {"location": f"d{c}{i}.txt", "labels": [c], "dataset": "Train"} for c in classes for i in range(n_per_class)
    ]


def _import_body(kind: str, documents: list[dict[str, Any]]) -> dict[str, Any]:
    project_kind = "CustomSingleLabelClassification" if kind == "single" else "CustomMultiLabelClassification"
    return {
        "metadata": {"projectKind": project_kind, "storageInputContainerName": "c", "language": "en"},
        "assets": {
            "projectKind": project_kind,
            "classes": [{"category": "A"}, {"category": "B"}],
            "documents": documents,
        },
    }


def test_percentage_split_is_stratified_seeded_and_disjoint() -> None:
    docs = _docs(10)
    options = {"kind": "percentage", "trainingSplitPercentage": 80, "testingSplitPercentage": 20}
    train, test = split_documents(docs, options, seed=1)
    assert sorted(train + test) == list(range(30)) and not set(train) & set(test)
    assert Counter(docs[i]["labels"][0] for i in test) == {"A": 2, "B": 2, "C": 2}
    assert split_documents(docs, options, seed=1) == (train, test)
    assert split_documents(docs, options, seed=2) != (train, test)


def test_percentage_split_ignores_test_docs_and_manual_uses_datasets() -> None:
    docs = _docs(5)
    docs[0]["dataset"] = docs[7]["dataset"] = "Test"
    train, test = split_documents(docs, {"kind": "percentage", "testingSplitPercentage": 20}, seed=0)
    assert 0 not in train + test and 7 not in train + test
    train, test = split_documents(docs, {"kind": "manual"}, seed=0)
    assert test == [0, 7] and len(train) == 13


def test_tiny_classes_keep_a_training_document() -> None:
    docs = _docs(1) + _docs(4, ("D",))
    train, test = split_documents(docs, {"kind": "percentage", "testingSplitPercentage": 50}, seed=0)
    assert {docs[i]["labels"][0] for i in train} == {"A", "B", "C", "D"}
    assert test


def test_import_normalizes_single_and_multi_label_documents() -> None:
    _, assets = parse_import("p", _import_body("single", [{"location": "a.txt", "class": {"category": "A"}}]))
    assert assets["documents"] == [{"location": "a.txt", "language": "en", "dataset": "Train", "labels": ["A"]}]
    multi = [{"location": "b.txt", "dataset": "Test", "classes": [{"category": "A"}, {"category": "B"}]}]
    _, assets = parse_import("p", _import_body("multi", multi))
    assert assets["documents"][0]["labels"] == ["A", "B"] and assets["documents"][0]["dataset"] == "Test"


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_export_is_the_inverse_of_import(kind: str) -> None:
    label = {"class": {"category": "B"}} if kind == "single" else {"classes": [{"category": "A"}, {"category": "B"}]}
    body = _import_body(kind, [{"location": "a.txt", "dataset": "Test", **label}])
    metadata, assets = parse_import("p", body)
    exported = exported_project({**metadata, "projectName": "p"}, assets)
    assert exported["assets"]["documents"] == [{"location": "a.txt", "language": "en", "dataset": "Test", **label}]
    assert exported["metadata"]["projectName"] == "p"
    assert exported["metadata"]["storageInputContainerName"] == "c"
    assert parse_import("p", exported) == (metadata, assets)


@pytest.mark.parametrize(
    "document",
    [
        {"location": "a.txt", "class": {"category": "Z"}},  # class not declared
        {"location": "a.txt"},  # no class object
        {"class": {"category": "A"}},  # no location
        {"location": "a.txt", "class": {"category": "A"}, "dataset": "Validation"},
    ],
)
def test_import_rejects_bad_documents(document: dict[str, Any]) -> None:
    with pytest.raises(ApiProblem) as info:
        parse_import("p", _import_body("single", [document]))
    assert info.value.status == 400


def test_import_rejects_bad_class_names() -> None:
    body = _import_body("single", [])
    body["assets"]["classes"] = [{"category": "a/b"}]
    with pytest.raises(ApiProblem, match="a/b"):
        parse_import("p", body)


def test_training_options_defaults_and_errors() -> None:
    assets = {"documents": _docs(4)}
    parsed = parse_training({"modelLabel": "m1"}, assets)
    assert parsed["trainingConfigVersion"] == "2022-05-01"
    assert parsed["evaluationOptions"] == {
        "kind": "percentage",
        "trainingSplitPercentage": 80,
        "testingSplitPercentage": 20,
    }
    derived = parse_training({"modelLabel": "m1", "evaluationOptions": {"testingSplitPercentage": 30}}, assets)
    assert derived["evaluationOptions"]["trainingSplitPercentage"] == 70
    for body in (
        {"modelLabel": "m1", "evaluationOptions": {"trainingSplitPercentage": 70, "testingSplitPercentage": 20}},
        {"modelLabel": "m1", "evaluationOptions": {"kind": "random"}},
        {"modelLabel": "m1", "trainingConfigVersion": "2099-01-01"},
        {"modelLabel": "has space"},
    ):
        with pytest.raises(ApiProblem):
            parse_training(body, assets)
    with pytest.raises(ApiProblem, match="at least 10"):
        parse_training({"modelLabel": "m1"}, {"documents": _docs(1)})


def test_names_and_job_ids() -> None:
    assert check_name("my.project-1_x", "projectName") == "my.project-1_x"
    with pytest.raises(ApiProblem):
        check_name("x" * 51, "projectName")
    from datetime import datetime, timezone

    guid, ticks = new_job_id(datetime(2022, 4, 18, tzinfo=timezone.utc)).split("_")
    assert len(guid) == 36 and ticks == "637858368000000000"


def test_jobs_expire_after_seven_days() -> None:
    from ctc_spark.emulator.authoring_jobs import JobBook

    class _Memory:
        def __init__(self) -> None:
            self.data: dict[tuple[str, str], Any] = {}

        def put(self, ns: str, key: str, value: Any) -> None:
            self.data[ns, key] = value

        def get(self, ns: str, key: str) -> Any:
            return self.data.get((ns, key))

        def delete(self, ns: str, key: str) -> None:
            self.data.pop((ns, key), None)

        def items(self, ns: str) -> list[tuple[str, Any]]:
            return [(k, v) for (n, k), v in self.data.items() if n == ns]

    now = [1_700_000_000.0]
    book = JobBook(_Memory(), lambda: now[0])
    record = book.create("train", "p", "/projects/p/train/jobs", status="running")
    job_id = record["job"]["jobId"]
    assert record["path"] == f"/projects/p/train/jobs/{job_id}"
    assert book.update(job_id, lambda job: job.update(status="succeeded"))["job"]["status"] == "succeeded"
    assert book.get(job_id, kind="import") is None and book.get(job_id, project="q") is None
    now[0] += 6 * 86400
    assert book.get(job_id, kind="train", project="p") is not None
    now[0] += 2 * 86400
    assert book.get(job_id) is None
