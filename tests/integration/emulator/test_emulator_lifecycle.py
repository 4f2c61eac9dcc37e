"""Model lifecycle against the emulator's clock: `latest` is a current config, 2022-05-01 keeps its documented dates."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from authoring_corpus import exported_project, learnable_corpus, upload
from test_emulator_authoring import ROOT, accepted, client_for, wait

from ctc_spark.emulator.lifecycle import CURRENT_VERSION, TrainingConfigVersion
from ctc_spark.training.workflow import expiry_warnings

pytestmark = pytest.mark.integration

FIVE_YEARS = 5 * 365 * 86400.0


def _imported(make_emulator: Any, azurite: Any, **config: Any) -> tuple[httpx.Client, str]:
    server = make_emulator(training_seconds=0.2, **config)
    client = client_for(server)
    name, container = f"p-{uuid.uuid4().hex[:8]}", f"c{uuid.uuid4().hex[:12]}"
    docs = learnable_corpus("single")
    upload(azurite.connection_string, container, docs)
    job = wait(
        client, accepted(client.post(f"{ROOT}/{name}/:import", json=exported_project("single", name, container, docs)))
    )
    assert job["status"] == "succeeded", job
    return client, name


def _train_and_deploy(
    client: httpx.Client, name: str, label: str, version: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    body = {"modelLabel": label, **({"trainingConfigVersion": version} if version else {})}
    job = wait(client, accepted(client.post(f"{ROOT}/{name}/:train", json=body)))
    assert job["status"] == "succeeded", job
    wait(client, accepted(client.put(f"{ROOT}/{name}/deployments/d-{label}", json={"trainedModelLabel": label})))
    return client.get(f"{ROOT}/{name}/models/{label}").json(), client.get(f"{ROOT}/{name}/deployments/d-{label}").json()


def test_latest_is_a_current_config_dated_from_the_emulators_clock(make_emulator: Any, azurite: Any) -> None:
    clock = lambda: time.time() + FIVE_YEARS  # noqa: E731 - the emulator's clock runs five years ahead of ours
    today = datetime.fromtimestamp(clock(), timezone.utc).date()
    client, name = _imported(make_emulator, azurite, clock=clock)

    listed = client.get(
        f"{ROOT}/global/training-config-versions", params={"projectKind": "CustomSingleLabelClassification"}
    )
    model_expiry = today + timedelta(days=365)
    assert listed.json()["value"] == [
        {"trainingConfigVersion": "2022-05-01", "modelExpirationDate": "2025-10-22"},
        {"trainingConfigVersion": CURRENT_VERSION, "modelExpirationDate": model_expiry.isoformat()},
    ]

    model, deployment = _train_and_deploy(client, name, "fresh", None)  # no version: `latest`
    assert model["modelTrainingConfigVersion"] == CURRENT_VERSION
    assert model["modelExpirationDate"] == model_expiry.isoformat()
    assert deployment["deploymentExpirationDate"] == (model_expiry + timedelta(days=365)).isoformat()
    dates = {"model": model["modelExpirationDate"], "deployment": deployment["deploymentExpirationDate"]}
    assert expiry_warnings("p/d-fresh", dates, today) == []

    model, deployment = _train_and_deploy(client, name, "old", "2022-05-01")
    assert (model["modelExpirationDate"], deployment["deploymentExpirationDate"]) == ("2025-10-22", "2026-10-22")
    assert deployment["modelTrainingConfigVersion"] == "2022-05-01"


def test_configured_dates_replace_the_defaults_so_expiry_stays_testable(make_emulator: Any, azurite: Any) -> None:
    configs = (
        TrainingConfigVersion("2023-01-01", date(2024, 1, 1), date(2024, 6, 1)),
        TrainingConfigVersion("2024-01-01", date(2025, 1, 1), date(2026, 1, 1)),
    )
    client, name = _imported(make_emulator, azurite, training_configs=configs)

    kind = {"projectKind": "CustomSingleLabelClassification"}
    listed = client.get(f"{ROOT}/global/training-config-versions", params=kind).json()["value"]
    assert [v["trainingConfigVersion"] for v in listed] == ["2023-01-01", "2024-01-01"]
    model, deployment = _train_and_deploy(client, name, "m", "latest")
    assert model["modelTrainingConfigVersion"] == "2024-01-01"
    assert (model["modelExpirationDate"], deployment["deploymentExpirationDate"]) == ("2025-01-01", "2026-01-01")
    dates = {"model": model["modelExpirationDate"], "deployment": deployment["deploymentExpirationDate"]}
    assert expiry_warnings("p/d-m", dates, date(2025, 12, 15)) == [
        "warning: p/d-m model expired on 2025-01-01",
        "warning: p/d-m deployment expires on 2026-01-01, within 30 days",
    ]
    refused = client.post(f"{ROOT}/{name}/:train", json={"modelLabel": "x", "trainingConfigVersion": CURRENT_VERSION})
    assert refused.status_code == 400 and "2024-01-01" in refused.json()["error"]["message"]
