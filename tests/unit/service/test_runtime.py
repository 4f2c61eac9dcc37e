"""RuntimeClient against httpx.MockTransport: the submit body, job parsing and paging, versions, secrets."""

from __future__ import annotations

import json
import pickle

import httpx
import pytest
from service_fakes import DOCS, EP, KEY, LOC, _client, _job, _settings

from ctc_spark.errors import ConfigError, ThrottledError
from ctc_spark.service import RuntimeClient


def test_submit_sends_the_sdk_shape_and_returns_the_job() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, headers={"Operation-Location": LOC})

    client, _ = _client(handler)
    job = client.submit(DOCS, project="p", deployment="d", kind="multi", display_name="dn")
    assert (job.job_id, job.operation_location) == ("job-1", LOC)
    body = json.loads(seen[0].content)
    assert body["tasks"][0] == {
        "taskName": "0",
        "kind": "CustomMultiLabelClassification",
        "parameters": {"projectName": "p", "deploymentName": "d", "loggingOptOut": True},
    }
    assert body["analysisInput"]["documents"][0] == {"id": "a", "text": "alpha text", "language": "en"}
    assert seen[0].headers["Ocp-Apim-Subscription-Key"] == KEY
    assert seen[0].url.params["api-version"] == "2023-04-01"
    assert client.stats.submits == 1


def test_get_job_parses_results_errors_stats_and_sorts_classes() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_job())

    client, _ = _client(handler)
    job = client.get_job(LOC, show_stats=True)
    assert seen[0].url.params["$top"] == "25" and seen[0].url.params["showStats"] == "true"
    a, b = job.documents
    assert [c.category for c in a.classes] == ["y", "x"] and a.characters == 10
    assert (b.error_code, b.error_message, b.classes) == ("InvalidDocument", "Document text is empty.", ())
    assert job.created is not None and job.created.microsecond == 123456 and job.done


def test_next_link_pages_are_merged() -> None:
    page2 = {
        "status": "succeeded",
        "tasks": {
            "items": [
                {
                    "results": {
                        "documents": [
                            {"id": "c", "class": [{"category": "z", "confidenceScore": 0.9}], "warnings": []}
                        ],
                        "errors": [],
                    }
                }
            ]
        },
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("$skip") == "2":
            return httpx.Response(200, json=page2)
        return httpx.Response(
            200, json=_job(nextLink=f"{EP}/language/analyze-text/jobs/job-1?api-version=2023-04-01&$skip=2&$top=2")
        )

    client, _ = _client(handler)
    assert [d.id for d in client.get_job("job-1").documents] == ["a", "c", "b"]


def test_versions_are_validated_and_secrets_stay_hidden() -> None:
    with pytest.raises(ConfigError, match="'2021-01-01'"):
        RuntimeClient(_settings().primary, _settings(runtime_api_version="2021-01-01"))
    client, _ = _client(lambda r: httpx.Response(200))
    assert KEY not in repr(client) and KEY not in repr(_settings())
    err = pickle.loads(pickle.dumps(ThrottledError("slow", status=429, retry_after=2.0)))
    assert err.retry_after == 2.0
