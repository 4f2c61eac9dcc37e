"""The emulator's authoring API over raw HTTP: status codes, job envelopes, 409 on a second training job, cancel."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from authoring_corpus import exported_project, learnable_corpus, upload

pytestmark = pytest.mark.integration

API = "2023-04-01"
ROOT = "/language/authoring/analyze-text/projects"
TERMINAL = {"succeeded", "failed", "cancelled"}


def client_for(server: Any) -> httpx.Client:
    return httpx.Client(
        base_url=server.endpoint,
        headers={"Ocp-Apim-Subscription-Key": server.key},
        params={"api-version": API},
        timeout=30,
    )


def wait(client: httpx.Client, location: str, deadline: float = 60.0) -> dict[str, Any]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        job: dict[str, Any] = client.get(location).json()
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job at {location} did not finish")


def accepted(response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    location = response.headers["Operation-Location"]
    assert location.startswith("http://127.0.0.1:") and f"api-version={API}" in location
    return location


@pytest.fixture()
def project(make_emulator: Any, azurite: Any) -> tuple[Any, httpx.Client, str]:
    """An emulator (slow training) with one imported single-label project of 42 docs."""
    server = make_emulator(training_seconds=0.5)
    client = client_for(server)
    name = f"p-{uuid.uuid4().hex[:8]}"
    container = f"c{uuid.uuid4().hex[:12]}"
    docs = learnable_corpus("single")
    upload(azurite.connection_string, container, docs)
    body = exported_project("single", name, container, docs)
    job = wait(client, accepted(client.post(f"{ROOT}/{name}/:import", json=body)))
    assert job["status"] == "succeeded", job
    return server, client, name


def test_create_update_get_list_project(make_emulator: Any) -> None:
    client = client_for(make_emulator())
    body = {"projectKind": "CustomMultiLabelClassification", "storageInputContainerName": "docs", "language": "en"}
    created = client.patch(f"{ROOT}/proj1", json=body, headers={"Content-Type": "application/merge-patch+json"})
    assert created.status_code == 201
    assert created.json()["projectName"] == "proj1" and created.json()["createdDateTime"].endswith("Z")
    updated = client.patch(f"{ROOT}/proj1", json={"description": "changed"})
    assert updated.status_code == 200 and updated.json()["description"] == "changed"
    assert client.get(f"{ROOT}/proj1").json()["projectKind"] == "CustomMultiLabelClassification"
    assert "proj1" in [p["projectName"] for p in client.get(ROOT).json()["value"]]
    bad = client.patch(f"{ROOT}/bad name!", json=body)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "InvalidArgument"
    assert client.get(f"{ROOT}/missing").status_code == 404
    assert client.get(f"{ROOT}/proj1", params={"api-version": "1999-01-01"}).status_code == 404


def test_import_rejects_missing_blobs_and_bad_classes(make_emulator: Any, azurite: Any) -> None:
    client = client_for(make_emulator())
    container = f"c{uuid.uuid4().hex[:12]}"
    docs = learnable_corpus("single")
    upload(azurite.connection_string, container, docs[:-1])  # the last blob is never uploaded
    body = exported_project("single", "imp", container, docs)
    job = wait(client, accepted(client.post(f"{ROOT}/imp/:import", json=body)))
    assert job["status"] == "failed"
    assert job["errors"][0]["code"] == "DocumentNotFound" and docs[-1][0] in job["errors"][0]["message"]
    body["assets"]["classes"].append({"category": "bad/name"})
    assert client.post(f"{ROOT}/imp/:import", json=body).status_code == 400
    missing_container = exported_project("single", "imp2", "no-such-container", docs)
    job = wait(client, accepted(client.post(f"{ROOT}/imp2/:import", json=missing_container)))
    assert job["errors"][0]["code"] == "StorageContainerNotFound"


def test_train_evaluate_deploy_swap_delete(project: tuple[Any, httpx.Client, str]) -> None:
    _, client, name = project
    location = accepted(client.post(f"{ROOT}/{name}/:train", json={"modelLabel": "m1"}))
    assert f"/projects/{name}/train/jobs/" in location
    job = wait(client, location)
    assert job["status"] == "succeeded", job
    assert job["result"]["trainingStatus"]["percentComplete"] == 100
    assert job["result"]["evaluationStatus"]["status"] == "succeeded"
    assert job["jobId"].split("_")[1].isdigit()
    assert job["expirationDateTime"] > job["createdDateTime"]
    manual = {"modelLabel": "m2", "evaluationOptions": {"kind": "manual"}}
    assert wait(client, accepted(client.post(f"{ROOT}/{name}/:train", json=manual)))["status"] == "succeeded"

    models = client.get(f"{ROOT}/{name}/models").json()["value"]
    assert sorted(m["label"] for m in models) == ["m1", "m2"]
    assert {"modelId", "lastTrainedDateTime", "modelExpirationDate", "modelTrainingConfigVersion"} <= set(models[0])
    summary = client.get(f"{ROOT}/{name}/models/m1/evaluation/summary-result").json()
    assert summary["projectKind"] == "CustomSingleLabelClassification"
    evaluation = summary["customSingleLabelClassificationEvaluation"]
    for counts in evaluation["classes"].values():
        total = sum(counts[k] for k in ("truePositiveCount", "falsePositiveCount", "falseNegativeCount"))
        assert total + counts["trueNegativeCount"] > 0
    page = client.get(f"{ROOT}/{name}/models/m1/evaluation/result", params={"maxpagesize": 3}).json()
    assert len(page["value"]) == 3 and "nextLink" in page
    # httpx drops a URL's own query when the client has default params, so pass nextLink's query explicitly.
    next_link = httpx.URL(page["nextLink"])
    rest = client.get(next_link.copy_with(query=None), params=dict(next_link.params)).json()["value"]
    assert rest and {r["location"] for r in rest}.isdisjoint(r["location"] for r in page["value"])

    assert (
        wait(client, accepted(client.put(f"{ROOT}/{name}/deployments/a", json={"trainedModelLabel": "m1"})))["status"]
        == "succeeded"
    )
    wait(client, accepted(client.put(f"{ROOT}/{name}/deployments/b", json={"trainedModelLabel": "m2"})))
    model_ids = {m["label"]: m["modelId"] for m in models}
    assert client.get(f"{ROOT}/{name}/deployments/a").json()["modelId"] == model_ids["m1"]
    swap = {"firstDeploymentName": "a", "secondDeploymentName": "b"}
    wait(client, accepted(client.post(f"{ROOT}/{name}/deployments/:swap", json=swap)))
    assert client.get(f"{ROOT}/{name}/deployments/a").json()["modelId"] == model_ids["m2"]
    assert client.get(f"{ROOT}/{name}/deployments/b").json()["modelId"] == model_ids["m1"]
    assert len(client.get(f"{ROOT}/{name}/deployments").json()["value"]) == 2
    wait(client, accepted(client.delete(f"{ROOT}/{name}/deployments/b")))
    assert client.get(f"{ROOT}/{name}/deployments/b").status_code == 404
    assert client.put(f"{ROOT}/{name}/deployments/c", json={"trainedModelLabel": "nope"}).status_code == 404

    assert client.delete(f"{ROOT}/{name}/models/m2").status_code == 204
    assert client.get(f"{ROOT}/{name}/models/m2").status_code == 404
    location = accepted(client.delete(f"{ROOT}/{name}"))
    assert "/projects/global/deletion-jobs/" in location
    assert wait(client, location)["status"] == "succeeded"
    assert client.get(f"{ROOT}/{name}").status_code == 404


def test_export_round_trips_the_imported_project(project: tuple[Any, httpx.Client, str]) -> None:
    _, client, name = project
    job = wait(client, accepted(client.post(f"{ROOT}/{name}/:export", params={"stringIndexType": "Utf16CodeUnit"})))
    exported = client.get(job["resultUrl"]).json()
    assert exported["metadata"]["projectName"] == name
    assert len(exported["assets"]["documents"]) == 42
    assert exported["assets"]["documents"][0]["class"]["category"] in {"Account", "Billing", "Shipping"}


def test_second_training_job_gets_409_and_cancel_stops_the_first(
    make_emulator: Any, azurite: Any, project: tuple[Any, httpx.Client, str]
) -> None:
    slow = make_emulator(training_seconds=60)
    client = client_for(slow)
    name = "slow"
    container = f"c{uuid.uuid4().hex[:12]}"
    docs = learnable_corpus("single")
    upload(azurite.connection_string, container, docs)
    wait(
        client, accepted(client.post(f"{ROOT}/{name}/:import", json=exported_project("single", name, container, docs)))
    )

    location = accepted(client.post(f"{ROOT}/{name}/:train", json={"modelLabel": "m1"}))
    second = client.post(f"{ROOT}/{name}/:train", json={"modelLabel": "m2"})
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "Conflict"
    running = client.get(location).json()
    assert running["status"] in {"notStarted", "running"}
    assert "estimatedEndDateTime" in running["result"]
    listed = client.get(f"{ROOT}/{name}/train/jobs").json()["value"]
    assert [j["jobId"] for j in listed] == [running["jobId"]]

    cancel_location = accepted(client.post(location.split("?")[0] + "/:cancel"))
    assert cancel_location.split("?")[0] == location.split("?")[0]
    job = wait(client, location, deadline=30)
    # Documented choice: a cancelled training job ends `failed` with OperationCancelled (see trainer.py).
    assert job["status"] == "failed"
    assert job["errors"][0]["code"] == "OperationCancelled"
    assert client.get(f"{ROOT}/{name}/models").json()["value"] == []
    # The project is free again: a new training job is accepted.
    again = accepted(client.post(f"{ROOT}/{name}/:train", json={"modelLabel": "m3"}))
    accepted(client.post(again.split("?")[0] + "/:cancel"))
    assert wait(client, again, deadline=30)["errors"][0]["code"] == "OperationCancelled"


def test_bad_training_requests_are_400(project: tuple[Any, httpx.Client, str]) -> None:
    _, client, name = project
    bad_split = {"modelLabel": "m", "evaluationOptions": {"kind": "percentage", "trainingSplitPercentage": 90}}
    ok_split = client.post(f"{ROOT}/{name}/:train", json=bad_split)  # testing defaults to 100 - training
    assert ok_split.status_code == 202
    wait(client, ok_split.headers["Operation-Location"])
    wrong_sum = {
        "modelLabel": "m",
        "evaluationOptions": {"kind": "percentage", "trainingSplitPercentage": 90, "testingSplitPercentage": 20},
    }
    assert client.post(f"{ROOT}/{name}/:train", json=wrong_sum).status_code == 400
    version = {"modelLabel": "m", "trainingConfigVersion": "1999-01-01"}
    assert client.post(f"{ROOT}/{name}/:train", json=version).status_code == 400
    assert client.post(f"{ROOT}/{name}/:train", json={"modelLabel": "bad label"}).status_code == 400
    assert client.post(f"{ROOT}/{name}/:train", content=b"{not json").status_code == 400
    versions = client.get(
        f"{ROOT}/global/training-config-versions", params={"projectKind": "CustomSingleLabelClassification"}
    )
    assert versions.json()["value"][0]["trainingConfigVersion"] == "2022-05-01"


def test_projects_models_and_evaluations_survive_a_restart(make_emulator: Any, azurite: Any, tmp_path: Any) -> None:
    state = tmp_path / "state"
    first = make_emulator(training_seconds=0.2, state_dir=state)
    client = client_for(first)
    container = f"c{uuid.uuid4().hex[:12]}"
    docs = learnable_corpus("multi")
    upload(azurite.connection_string, container, docs)
    wait(client, accepted(client.post(f"{ROOT}/keep/:import", json=exported_project("multi", "keep", container, docs))))
    assert (
        wait(client, accepted(client.post(f"{ROOT}/keep/:train", json={"modelLabel": "m1"})))["status"] == "succeeded"
    )
    summary = client.get(f"{ROOT}/keep/models/m1/evaluation/summary-result").json()
    first.stop()

    second = client_for(make_emulator(state_dir=state))
    assert second.get(f"{ROOT}/keep").json()["projectKind"] == "CustomMultiLabelClassification"
    assert [m["label"] for m in second.get(f"{ROOT}/keep/models").json()["value"]] == ["m1"]
    assert second.get(f"{ROOT}/keep/models/m1/evaluation/summary-result").json() == summary
    assert [j["status"] for j in second.get(f"{ROOT}/keep/train/jobs").json()["value"]] == ["succeeded"]
