"""Reading the deployment's model: the answer's fields, a refused read under each skip key, an unknown deployment."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import httpx
import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.engine.planning.model import DeploymentModel, agreed_model, check_skip_by, read_deployment_model
from ctc_spark.errors import AuthenticationError, ConfigError, NotFoundError

KEY = "authoring-secret-key"
SERVICE = ServiceSettings(resources=(ResourceSettings(endpoint="https://lang.example.com", key=Secret(KEY)),))
DEPLOYMENT = {
    "deploymentName": "prod",
    "modelId": "m2-20261130T101500",
    "lastTrainedDateTime": "2026-11-30T10:15:00Z",
    "lastDeployedDateTime": "2026-11-30T10:16:00Z",
}
MODELS = {
    "value": [
        {"label": "m1", "modelId": "m1-20261129T090000"},
        {"label": "m2", "modelId": "m2-20261130T101500"},
    ]
}


def _transport(status: int, body: dict[str, object], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if status == 200 and request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        return httpx.Response(status, json=body)

    return httpx.MockTransport(handler)


def _refusal() -> dict[str, object]:
    return {"error": {"code": "PermissionDenied", "message": "principal lacks authoring rights"}}


def test_the_model_is_read_from_the_deployment_and_its_label_from_the_models() -> None:
    seen: list[httpx.Request] = []
    model = read_deployment_model(SERVICE, "tickets", "prod", transport=_transport(200, DEPLOYMENT, seen))
    assert model == DeploymentModel("m2", "m2-20261130T101500", datetime(2026, 11, 30, 10, 16, tzinfo=timezone.utc))
    assert [(r.method, r.url.path) for r in seen] == [
        ("GET", "/language/authoring/analyze-text/projects/tickets/deployments/prod"),
        ("GET", "/language/authoring/analyze-text/projects/tickets/models"),
    ]


def test_a_deployment_answer_that_names_its_label_needs_no_models_list() -> None:
    seen: list[httpx.Request] = []
    body = {**DEPLOYMENT, "trainedModelLabel": "m2"}
    model = read_deployment_model(SERVICE, "tickets", "prod", transport=_transport(200, body, seen))
    assert (model.label, model.model_id, len(seen)) == ("m2", "m2-20261130T101500", 1)


def test_a_model_id_missing_from_the_models_list_leaves_the_label_unknown() -> None:
    body = {**DEPLOYMENT, "modelId": "gone-20250101T000000"}
    model = read_deployment_model(SERVICE, "tickets", "prod", transport=_transport(200, body, []))
    assert (model.label, model.model_id, model.known) == (None, "gone-20250101T000000", True)


def test_a_refused_read_stops_a_model_aware_run_and_says_how_to_go_on() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(AuthenticationError, match=r"tickets/prod.*--skip-by text") as caught:
        read_deployment_model(SERVICE, "tickets", "prod", transport=_transport(403, _refusal(), seen))
    assert caught.value.status == 403 and KEY not in str(caught.value)
    assert len(seen) == 1  # a refusal is not retried


def test_a_refused_read_under_skip_by_text_goes_on_without_a_model(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[httpx.Request] = []
    with caplog.at_level(logging.WARNING):
        model = read_deployment_model(
            SERVICE, "tickets", "prod", skip_by="text", transport=_transport(401, _refusal(), seen)
        )
    assert model == DeploymentModel() and not model.known
    assert "skipping by text alone" in caplog.text and KEY not in caplog.text


def test_an_unknown_deployment_is_not_found_under_either_key() -> None:
    body = {"error": {"code": "DeploymentNotFound", "message": "deployment 'nope' does not exist"}}
    for skip_by in ("text+model", "text"):
        with pytest.raises(NotFoundError, match="nope"):
            read_deployment_model(SERVICE, "tickets", "nope", skip_by=skip_by, transport=_transport(404, body, []))  # type: ignore[arg-type]


def test_an_answer_without_a_date_or_id_still_names_the_label() -> None:
    model = DeploymentModel.from_deployment({"trainedModelLabel": "m1", "lastDeployedDateTime": "not a date"})
    assert (model.label, model.model_id, model.deployed_at, model.known) == ("m1", None, None, True)
    assert str(model) == "m1" and str(DeploymentModel()) == "an unknown model"


def test_the_skip_key_is_checked() -> None:
    assert check_skip_by("text") == "text" and check_skip_by("text+model") == "text+model"
    with pytest.raises(ConfigError, match=r"'model'.*text\+model, text"):
        check_skip_by("model")


TWO = ServiceSettings(
    resources=(
        ResourceSettings(endpoint="https://east.example.com", key=Secret("east-secret-key"), name="east"),
        ResourceSettings(endpoint="https://west.example.com", key=Secret("west-secret-key"), name="west"),
    )
)


def _resources(deployments: dict[str, dict[str, object]], seen: list[httpx.Request]) -> httpx.MockTransport:
    """Each host answers with its own deployment body (status 200, or the body's `status`)."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = dict(deployments[request.url.host])
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"value": [{"label": body.pop("label"), "modelId": body["modelId"]}]})
        return httpx.Response(int(body.pop("status", 200)), json={k: v for k, v in body.items() if k != "label"})

    return httpx.MockTransport(handler)


def test_every_resource_is_asked_with_its_own_key_and_a_shared_label_gives_the_first_resources_model() -> None:
    seen: list[httpx.Request] = []
    answers = {
        "east.example.com": {"label": "v3", "modelId": "v3-20261201T080000"},
        "west.example.com": {"label": "v3", "modelId": "v3-20261201T081500"},  # its own copy, trained later
    }
    model = read_deployment_model(TWO, "tickets", "prod", transport=_resources(answers, seen))
    assert (model.label, model.model_id) == ("v3", "v3-20261201T080000")
    keys = {(r.url.host, r.headers["Ocp-Apim-Subscription-Key"]) for r in seen}
    assert keys == {("east.example.com", "east-secret-key"), ("west.example.com", "west-secret-key")}


def test_resources_that_serve_different_models_stop_the_run_before_it_sends_anything() -> None:
    answers = {
        "east.example.com": {"label": "v3", "modelId": "v3-20261201T080000"},
        "west.example.com": {"label": "v2", "modelId": "v2-20261101T080000"},
    }
    with pytest.raises(ConfigError, match=r"tickets/prod serves different models.*'east' serves v3.*'west' serves v2"):
        read_deployment_model(TWO, "tickets", "prod", transport=_resources(answers, []))


def test_a_refused_read_on_a_second_resource_names_that_resource() -> None:
    answers = {
        "east.example.com": {"label": "v3", "modelId": "v3-20261201T080000"},
        "west.example.com": {"status": 403, **_refusal()},
    }
    with pytest.raises(AuthenticationError, match=r"tickets/prod on 'west'.*--skip-by text") as caught:
        read_deployment_model(TWO, "tickets", "prod", transport=_resources(answers, []))
    assert "west-secret-key" not in str(caught.value) and "east-secret-key" not in str(caught.value)


def test_the_agreed_model_ignores_resources_whose_model_is_unknown() -> None:
    v3 = DeploymentModel("v3", "v3-1")
    assert agreed_model("p/d", ["a", "b"], [DeploymentModel(), v3]) == v3
    assert agreed_model("p/d", ["a", "b"], [DeploymentModel(), DeploymentModel()]) == DeploymentModel()
    assert agreed_model("p/d", ["a", "b"], [DeploymentModel(None, "x-1"), DeploymentModel(None, "x-1")]).known
    with pytest.raises(ConfigError, match="'b' serves an unlabelled"):
        agreed_model("p/d", ["a", "b"], [v3, DeploymentModel(None, "x-1")])
