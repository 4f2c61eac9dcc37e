"""The emulator's admin routes need its key; its key reaches it from a file or the environment; lost submit answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ctc_spark.cli import build_parser
from ctc_spark.cli.emulator import config_from_args
from ctc_spark.emulator import EmulatorConfig, FaultProfile
from ctc_spark.emulator.app import build_app
from ctc_spark.emulator.context import EmulatorContext
from ctc_spark.emulator.server import seed_deployment
from ctc_spark.local.services import EMULATOR_KEYS_ENV

KEY = "admin-test-key"
JOBS = "/language/analyze-text/jobs?api-version=2023-04-01"


class _Client:
    """Requests to the ASGI app in process (no socket)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(go())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def ctx() -> Iterator[EmulatorContext]:
    context = EmulatorContext(EmulatorConfig(keys=(KEY,), calls_per_minute=None))
    texts = [f"alpha {i}" for i in range(10)] + [f"beta {i}" for i in range(10)]
    labels = [["A"]] * 10 + [["B"]] * 10
    seed_deployment(context, "p", "d", kind="single", texts=texts, labels=labels)
    yield context
    context.close()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("PUT", "/emulator/faults", {"error_500_rate": 1.0}), ("GET", "/emulator/faults", None)],
)
def test_admin_routes_need_the_key(ctx: EmulatorContext, method: str, path: str, body: object) -> None:
    client = _Client(build_app(ctx))
    for headers in ({}, {"Ocp-Apim-Subscription-Key": "wrong"}):
        assert client.request(method, path, json=body, headers=headers).status_code == 401
    assert client.post("/emulator/stats/reset").status_code == 401
    assert not ctx.faults.profile.active, "an anonymous request changed the fault profile"
    answer = client.request(method, path, json=body, headers={"Ocp-Apim-Subscription-Key": KEY})
    assert answer.status_code == 200
    assert client.post("/emulator/stats/reset", headers={"Ocp-Apim-Subscription-Key": KEY}).status_code == 204
    assert client.get("/emulator/stats").status_code == 200  # read-only counters stay open for benches


def test_a_lost_submit_answer_creates_the_job_and_answers_502(ctx: EmulatorContext) -> None:
    client = _Client(build_app(ctx))
    ctx.faults.set(FaultProfile(lose_next_submits=1))
    body = {
        "analysisInput": {"documents": [{"id": "0", "text": "alpha 3", "language": "en"}]},
        "tasks": [
            {
                "taskName": "0",
                "kind": "CustomSingleLabelClassification",
                "parameters": {"projectName": "p", "deploymentName": "d"},
            }
        ],
    }
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    lost = client.post(JOBS, json=body, headers=headers)
    assert lost.status_code == 502 and "operation-location" not in lost.headers
    assert ctx.stats.snapshot()["submits"] == 1, "the job behind the lost answer exists"
    assert client.post(JOBS, json=body, headers=headers).status_code == 202


def test_the_emulator_takes_its_keys_from_a_file_or_the_environment(tmp_path: Path) -> None:
    parser = build_parser()
    keys = tmp_path / "keys"
    keys.write_text("k-file-1\n\nk-file-2\n", encoding="utf-8")
    args = parser.parse_args(["emulator", "serve", "--key-file", str(keys)])
    assert config_from_args(args, env={EMULATOR_KEYS_ENV: "k-env"}).keys == ("k-file-1", "k-file-2", "k-env")
    plain = parser.parse_args(["emulator", "serve"])
    assert config_from_args(plain, env={EMULATOR_KEYS_ENV: "k1, k2"}).keys == ("k1", "k2")
    assert config_from_args(plain, env={}).keys == ("ctc-emulator-local-key",)
    with pytest.raises(ValueError, match="--key-file"):
        config_from_args(parser.parse_args(["emulator", "serve", "--key-file", str(tmp_path / "none")]), env={})
