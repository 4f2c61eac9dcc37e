"""The official Azure SDKs drive a full custom text classification cycle against the emulator, unmodified.

create project -> upload .txt blobs to Azurite -> import -> train -> evaluation -> deploy -> classify -> delete,
for a single-label and a multi-label project, with azure-ai-textanalytics-authoring 1.0.0b1 and
azure-ai-textanalytics 5.4.0.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from authoring_corpus import VOCAB, exported_project, learnable_corpus, upload

pytestmark = pytest.mark.integration

AUTHORING_API = "2025-05-15-preview"
POLL = 0.05


def authoring_cycle(endpoint: str, key: str, connection_string: str, kind: str) -> dict[str, Any]:
    """Run create -> upload -> import -> train -> evaluate -> deploy with the authoring SDK; returns what it saw."""
    from azure.ai.textanalytics.authoring import TextAuthoringClient, TextAuthoringProjectClient
    from azure.core.credentials import AzureKeyCredential

    project = f"sdk-{kind}-{uuid.uuid4().hex[:8]}"
    container = f"c{uuid.uuid4().hex[:12]}"
    docs = learnable_corpus(kind)
    credential = AzureKeyCredential(key)
    client = TextAuthoringClient(endpoint, credential, api_version=AUTHORING_API)
    project_kind = "CustomSingleLabelClassification" if kind == "single" else "CustomMultiLabelClassification"
    created = client.create_project(
        project,
        {"projectKind": project_kind, "storageInputContainerName": container, "language": "en"},
    )
    upload(connection_string, container, docs)
    pc = TextAuthoringProjectClient(endpoint, credential, project_name=project, api_version=AUTHORING_API)
    pc.project.begin_import(exported_project(kind, project, container, docs), polling_interval=POLL).result()
    versions = list(client.list_training_config_versions(project_kind=project_kind))
    trained = pc.project.begin_train(
        {
            "modelLabel": "m1",
            "trainingConfigVersion": "latest",
            "evaluationOptions": {"kind": "percentage", "trainingSplitPercentage": 75, "testingSplitPercentage": 25},
        },
        polling_interval=POLL,
    ).result()
    models = list(pc.project.list_trained_models())
    summary = pc.trained_model.get_model_evaluation_summary("m1")
    results = list(pc.trained_model.list_model_evaluation_results("m1", string_index_type="Utf16CodeUnit"))
    pc.deployment.begin_deploy_project("prod", {"trainedModelLabel": "m1"}, polling_interval=POLL).result()
    deployment = pc.deployment.get_deployment("prod")
    return {
        "project": project,
        "created": created,
        "versions": versions,
        "trained": trained,
        "models": models,
        "summary": summary,
        "results": results,
        "deployment": deployment,
        "docs": docs,
        "client": client,
    }


def classify(endpoint: str, key: str, kind: str, project: str, texts: list[str]) -> list[list[str]]:
    from azure.ai.textanalytics import TextAnalyticsClient
    from azure.core.credentials import AzureKeyCredential

    client = TextAnalyticsClient(endpoint, AzureKeyCredential(key))
    begin = client.begin_single_label_classify if kind == "single" else client.begin_multi_label_classify
    out: list[list[str]] = []
    for start in range(0, len(texts), 25):
        poller = begin(texts[start : start + 25], project_name=project, deployment_name="prod", polling_interval=POLL)
        for doc in poller.result():
            assert not doc.is_error, doc
            out.append(sorted(c.category for c in doc.classifications))
    return out


def fresh_texts(kind: str) -> tuple[list[str], list[list[str]]]:
    docs = learnable_corpus(kind, n_per_class=6, seed=99)
    return [text for _, text, _ in docs], [labels for _, _, labels in docs]


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_official_sdks_drive_a_full_cycle(make_emulator: Any, azurite: Any, kind: str) -> None:
    server = make_emulator(training_seconds=0.5)
    seen = authoring_cycle(server.endpoint, server.key, azurite.connection_string, kind)
    project_kind = "CustomSingleLabelClassification" if kind == "single" else "CustomMultiLabelClassification"

    assert seen["created"].project_kind == project_kind
    assert seen["versions"][0].training_config_version
    assert seen["trained"].model_label == "m1"
    assert [m.label for m in seen["models"]] == ["m1"]
    summary = seen["summary"]
    if kind == "single":
        evaluation = summary.custom_single_label_classification_evaluation
        assert set(evaluation.confusion_matrix) == set(VOCAB)
    else:
        evaluation = summary.custom_multi_label_classification_evaluation
    assert set(evaluation.classes) == set(VOCAB)
    assert evaluation.micro_f1 > 0.6  # chance is about 1/3
    # 25% of 42 Train documents, stratified, are held out: that is what the per-document results cover.
    assert 8 <= len(seen["results"]) <= 13
    assert all(r.location.endswith(".txt") for r in seen["results"])
    assert seen["deployment"].deployment_name == "prod"
    assert seen["deployment"].model_id == seen["models"][0].model_id

    texts, expected = fresh_texts(kind)
    predicted = classify(server.endpoint, server.key, kind, seen["project"], texts)
    if kind == "single":
        accuracy = sum(p == e for p, e in zip(predicted, expected, strict=True)) / len(expected)
        assert accuracy > 0.7
    else:
        hits = sum(len(set(p) & set(e)) for p, e in zip(predicted, expected, strict=True))
        assert hits / sum(len(e) for e in expected) > 0.6

    seen["client"].begin_delete_project(seen["project"], polling_interval=POLL).result()
    from azure.core.exceptions import ResourceNotFoundError

    with pytest.raises(ResourceNotFoundError):
        seen["client"].get_project(seen["project"])


def test_sdk_gets_conflict_for_a_second_training_job_and_cancel_terminates(make_emulator: Any, azurite: Any) -> None:
    from azure.ai.textanalytics.authoring import TextAuthoringProjectClient
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import HttpResponseError, ResourceExistsError

    server = make_emulator(training_seconds=60)
    project, container = f"sdk-cancel-{uuid.uuid4().hex[:6]}", f"c{uuid.uuid4().hex[:12]}"
    docs = learnable_corpus("single")
    upload(azurite.connection_string, container, docs)
    pc = TextAuthoringProjectClient(
        server.endpoint, AzureKeyCredential(server.key), project_name=project, api_version=AUTHORING_API
    )
    pc.project.begin_import(exported_project("single", project, container, docs), polling_interval=POLL).result()
    training = pc.project.begin_train({"modelLabel": "m1"}, polling_interval=POLL)
    with pytest.raises(ResourceExistsError):
        pc.project.begin_train({"modelLabel": "m2"}, polling_interval=POLL)
    (job,) = list(pc.project.list_training_jobs())
    # A cancelled job ends `failed` (OperationCancelled) so SDK pollers stop instead of polling `cancelled` forever.
    with pytest.raises(HttpResponseError, match="OperationCancelled"):
        pc.project.begin_cancel_training_job(job.job_id, polling_interval=POLL).result()
    with pytest.raises(HttpResponseError, match="OperationCancelled"):
        training.result()
    assert list(pc.project.list_trained_models()) == []
