"""AuthoringClient against httpx.MockTransport: project and train calls, then the operation waiter."""

from __future__ import annotations

import json

import httpx
from service_fakes import EP, _settings

from ctc_spark.service import AuthoringClient, wait_for_operation


def test_authoring_calls_and_the_operation_waiter() -> None:
    seen: list[httpx.Request] = []
    polls = iter([{"status": "running", "jobId": "t1"}, {"status": "succeeded", "jobId": "t1"}])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/:train"):
            return httpx.Response(
                202,
                headers={
                    "Operation-Location": f"{EP}/language/authoring/analyze-text/projects/p/train/jobs/t1?api-version=2023-04-01"
                },
            )
        if "/train/jobs/t1" in request.url.path:
            return httpx.Response(200, json=next(polls), headers={"Retry-After": "2"})
        return httpx.Response(201, json={"projectName": "p"})

    client = AuthoringClient(_settings().primary, _settings(), transport=httpx.MockTransport(handler))
    client.create_or_update_project("p", kind="single", storage_container="c")
    assert seen[0].method == "PATCH" and seen[0].headers["Content-Type"] == "application/merge-patch+json"
    location = client.train("p", model_label="m", split=70)
    assert json.loads(seen[1].content)["evaluationOptions"] == {
        "kind": "percentage",
        "trainingSplitPercentage": 70,
        "testingSplitPercentage": 30,
    }
    waits: list[float] = []
    progress: list[str] = []
    done = wait_for_operation(
        client, location, poll_interval=9, sleep=waits.append, progress=lambda j: progress.append(j["status"])
    )
    assert done["status"] == "succeeded" and waits == [2.0] and progress == ["running", "succeeded"]
