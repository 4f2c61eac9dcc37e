"""Project, deployment and model names follow the service's rules and are percent-encoded in every URL."""

from __future__ import annotations

import httpx
import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings
from ctc_spark.errors import ConfigError
from ctc_spark.service import AnalyzeDocument, AuthoringClient, RuntimeClient
from ctc_spark.service.vocabulary import check_name

EP = "https://res.cognitiveservices.azure.com"
SERVICE = ServiceSettings(resources=(ResourceSettings(EP, Secret("k")),))
BAD = ["a?b", "../other", "tickets?x=", "a/b", "a b", "", ".", "..", "x" * 51, "naïve", "a#b", "a%2Fb"]


@pytest.mark.parametrize("name", ["tickets", "Tickets_2.v-1", "x" * 50])
def test_good_names_pass(name: str) -> None:
    assert check_name(name, "project") == name


@pytest.mark.parametrize("name", BAD)
def test_bad_names_are_refused_with_one_line_naming_the_value(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_name(name, "project")
    message = str(info.value)
    assert repr(name) in message and "project" in message and "\n" not in message


def _authoring(seen: list[httpx.Request]) -> AuthoringClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={}, headers={"Operation-Location": f"{EP}/op"})

    return AuthoringClient(SERVICE.primary, SERVICE, transport=httpx.MockTransport(handler))


CALLS = {
    "get_project": lambda c, n: c.get_project(n),
    "delete_project": lambda c, n: c.delete_project(n),
    "train": lambda c, n: c.train(n, model_label="m"),
    "train label": lambda c, n: c.train("p", model_label=n),
    "get_model": lambda c, n: c.get_model("p", n),
    "get_deployment": lambda c, n: c.get_deployment("p", n),
    "deploy": lambda c, n: c.deploy("p", n, "m"),
    "deploy label": lambda c, n: c.deploy("p", "d", n),
    "swap": lambda c, n: c.swap_deployments("p", n, "d"),
    "create_or_update_project": lambda c, n: c.create_or_update_project(n, kind="single", storage_container="c"),
}


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
@pytest.mark.parametrize("name", ["a?b", "../other", "tickets?x="])
def test_authoring_refuses_bad_names_before_any_request(call: str, name: str) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(ConfigError, match="name"):
        CALLS[call](_authoring(seen), name)
    assert seen == []


def test_runtime_submit_refuses_bad_names_before_any_request() -> None:
    seen: list[httpx.Request] = []
    client = RuntimeClient(
        SERVICE.primary, SERVICE, transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(500))
    )
    for project, deployment in (("a?b", "d"), ("p", "../d")):
        with pytest.raises(ConfigError, match="name"):
            client.submit([AnalyzeDocument("0", "t")], project=project, deployment=deployment, kind="single")
    assert seen == []


def test_training_job_ids_from_the_service_are_percent_encoded() -> None:
    seen: list[httpx.Request] = []
    _authoring(seen).get_training_job("p", "../../x?y=1")
    path = seen[0].url.raw_path.split(b"?")[0]  # `url.path` is decoded
    assert path == b"/language/authoring/analyze-text/projects/p/train/jobs/..%2F..%2Fx%3Fy%3D1"
    assert set(seen[0].url.params) == {"api-version"}


@pytest.mark.parametrize(
    "argv",
    [
        ["deploy", "--project", "a?b", "--model", "m", "--deployment", "d"],
        ["deploy", "--project", "p", "--model", "m", "--deployment", "../d"],
        ["evaluate", "--project", "p", "--model", "m?x="],
        ["projects", "delete", "--project", "a?b"],
    ],
)
def test_the_training_commands_refuse_bad_names_in_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from ctc_spark.cli import build_parser

    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    error = capsys.readouterr().err.strip().splitlines()[-1]
    bad = next(a for a in argv if "?" in a or "/" in a)
    assert info.value.code == 2 and "invalid" in error and repr(bad) in error, error
