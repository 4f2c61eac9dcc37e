"""The emulator's runtime API against the official azure-ai-textanalytics 5.4.0 SDK and raw HTTP."""

from __future__ import annotations

import httpx
import pytest

from ctc_spark.emulator import FaultProfile, LatencyModel
from ctc_spark.local.corpus import generate_corpus

pytestmark = pytest.mark.integration

FAST = LatencyModel(queue_seconds=0.01, per_document_seconds=0.0, spread=0.0)
SINGLE = generate_corpus(300, n_classes=3, seed=61)
MULTI = generate_corpus(400, kind="multi", n_classes=3, seed=62)
TEST = generate_corpus(20, n_classes=3, seed=63)
TEST_MULTI = generate_corpus(20, kind="multi", n_classes=3, seed=64)


def _seed(server) -> None:
    server.seed_deployment(
        "rt", "single", kind="single", texts=[d.text for d in SINGLE], labels=[d.labels for d in SINGLE]
    )
    server.seed_deployment(
        "rtm", "multi", kind="multi", texts=[d.text for d in MULTI], labels=[d.labels for d in MULTI]
    )


@pytest.fixture(scope="module")
def server(make_emulator):
    s = make_emulator(latency=FAST)
    _seed(s)
    return s


def _sdk(server, key: str | None = None):
    from azure.ai.textanalytics import TextAnalyticsClient
    from azure.core.credentials import AzureKeyCredential

    return TextAnalyticsClient(server.endpoint, AzureKeyCredential(key or server.key))


def _body(
    texts: list[str], project: str = "rt", deployment: str = "single", kind: str = "CustomSingleLabelClassification"
):
    return {
        "analysisInput": {"documents": [{"id": str(i), "text": t, "language": "en"} for i, t in enumerate(texts)]},
        "tasks": [
            {"taskName": "0", "kind": kind, "parameters": {"projectName": project, "deploymentName": deployment}}
        ],
    }


def _submit(server, body, key: str | None = None) -> httpx.Response:
    return httpx.post(
        f"{server.endpoint}/language/analyze-text/jobs?api-version=2023-04-01",
        json=body,
        headers={"Ocp-Apim-Subscription-Key": key or server.key},
    )


def _get(server, url: str) -> httpx.Response:
    return httpx.get(url, headers={"Ocp-Apim-Subscription-Key": server.key})


def test_sdk_single_label_with_stats_and_a_document_error(server) -> None:
    texts = [d.text for d in TEST] + [""]
    poller = _sdk(server).begin_single_label_classify(texts, "rt", "single", show_stats=True, polling_interval=0.1)
    results = list(poller.result())
    assert len(results) == 21
    good = [r for r in results if not r.is_error]
    agree = sum(r.classifications[0].category == TEST[int(r.id)].labels[0] for r in good) / len(good)
    assert agree > 0.8
    assert all(0 < r.classifications[0].confidence_score <= 1 and r.statistics.character_count > 0 for r in good)
    assert results[-1].is_error and results[-1].error.code == "InvalidDocument"


def test_sdk_multi_label(server) -> None:
    poller = _sdk(server).begin_multi_label_classify([d.text for d in TEST_MULTI], "rtm", "multi", polling_interval=0.1)
    results = list(poller.result())
    hits = sum(bool({c.category for c in r.classifications} & set(TEST_MULTI[int(r.id)].labels)) for r in results)
    assert hits / len(results) > 0.8


def test_keys_are_required(server) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    with pytest.raises(ClientAuthenticationError):
        _sdk(server, key="wrong").begin_single_label_classify(["x"], "rt", "single")
    missing = httpx.post(f"{server.endpoint}/language/analyze-text/jobs?api-version=2023-04-01", json=_body(["x"]))
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "401"


def test_request_limits_and_bad_bodies(server) -> None:
    too_many = _submit(server, _body(["word"] * 26))
    assert too_many.status_code == 400
    assert too_many.json()["error"]["innererror"]["code"] == "InvalidDocumentBatch"
    too_long = _submit(server, _body(["x" * 60_000, "y" * 60_000, "z" * 6_000]))
    assert too_long.status_code == 400 and too_long.json()["error"]["innererror"]["code"] == "InvalidDocumentBatch"
    broken = httpx.post(
        f"{server.endpoint}/language/analyze-text/jobs?api-version=2023-04-01",
        content=b"{not json",
        headers={"Ocp-Apim-Subscription-Key": server.key, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert _submit(server, _body(["x"], deployment="nope")).status_code == 404
    old = httpx.post(
        f"{server.endpoint}/language/analyze-text/jobs?api-version=2020-01-01",
        json=_body(["x"]),
        headers={"Ocp-Apim-Subscription-Key": server.key},
    )
    assert old.status_code == 400 and "2020-01-01" in old.text


def test_paging_cancel_and_stats(server) -> None:
    before = server.stats()
    location = _submit(server, _body([d.text for d in TEST[:3]])).headers["Operation-Location"]
    import time

    time.sleep(0.2)
    page = _get(server, location + "&$top=1&showStats=true").json()
    assert len(page["tasks"]["items"][0]["results"]["documents"]) == 1
    link = httpx.URL(page["nextLink"])
    assert set(link.params.keys()) <= {"api-version", "$top", "$skip", "showStats"} and link.params["$skip"] == "1"
    rest = _get(server, str(link)).json()
    assert rest["tasks"]["items"][0]["results"]["documents"][0]["id"] == "1"
    after = server.stats()
    assert after["submits"] - before["submits"] == 1 and after["polls"] - before["polls"] == 2
    records = sum(max(1, -(-len(d.text) // 1000)) for d in TEST[:3])  # 1,000 characters each, rounded up
    assert after["text_records"] - before["text_records"] == records
    assert httpx.get(f"{server.endpoint}/emulator/stats").json()["submits"] == after["submits"]
    cancel = httpx.post(location.replace("?", ":cancel?"), headers={"Ocp-Apim-Subscription-Key": server.key})
    assert cancel.status_code == 202 and cancel.headers["Operation-Location"].startswith(server.endpoint)


def test_throttling_answers_429_with_retry_after_and_the_sdk_retries(make_emulator) -> None:
    s = make_emulator(latency=FAST, calls_per_minute=60, burst_seconds=1.0)
    _seed(s)
    first = _submit(s, _body(["hello"]))
    second = _submit(s, _body(["hello"]))
    assert first.status_code == 202 and second.status_code == 429
    assert int(second.headers["Retry-After"]) >= 1 and second.json()["error"]["code"] == "429"
    poller = _sdk(s).begin_single_label_classify([TEST[0].text], "rt", "single", polling_interval=0.1)
    assert not next(iter(poller.result())).is_error
    assert s.stats()["throttled"] >= 2


def test_results_expire_on_the_injected_clock(make_emulator) -> None:
    now = [1_000_000.0]
    s = make_emulator(latency=FAST, clock=lambda: now[0], result_ttl_seconds=3600)
    _seed(s)
    location = _submit(s, _body(["hello"])).headers["Operation-Location"]
    now[0] += 1
    assert _get(s, location).json()["status"] == "succeeded"
    now[0] += 3600
    assert _get(s, location).status_code == 404


def test_state_survives_a_restart(make_emulator, tmp_path) -> None:
    state = tmp_path / "state"
    first = make_emulator(latency=FAST, state_dir=state)
    _seed(first)
    location = _submit(first, _body([TEST[0].text])).headers["Operation-Location"]
    import time

    time.sleep(0.1)
    done = _get(first, location).json()
    first.stop()
    second = make_emulator(latency=FAST, state_dir=state)
    again = _get(second, location.replace(first.endpoint, second.endpoint)).json()
    assert again["status"] == "succeeded" and again["tasks"] == done["tasks"]
    assert _submit(second, _body(["more"])).status_code == 202  # the deployment is still there


def test_fault_injection_is_seeded_and_covers_every_fault(make_emulator) -> None:
    def outcomes(seed: int) -> list[int]:
        s = make_emulator(latency=FAST, seed=seed, faults=FaultProfile(error_500_rate=0.2, error_503_rate=0.2))
        _seed(s)
        return [_submit(s, _body(["hello"])).status_code for _ in range(25)]

    first = outcomes(7)
    assert first == outcomes(7) and {500, 503, 202} <= set(first)
    s = make_emulator(latency=FAST, faults=FaultProfile(reset_next_requests=1, fail_next_jobs=1, partial_job_rate=0.0))
    _seed(s)
    with pytest.raises(httpx.TransportError):
        _submit(s, _body(["hello"]))
    failed = _submit(s, _body(["hello"])).headers["Operation-Location"]
    import time

    time.sleep(0.1)
    body = _get(s, failed).json()
    assert body["status"] == "failed" and body["errors"]
    from azure.core.exceptions import HttpResponseError

    s.set_faults(FaultProfile(fail_next_jobs=1))
    with pytest.raises(HttpResponseError):
        _sdk(s).begin_single_label_classify(["hello"], "rt", "single", polling_interval=0.1).result()
    s.set_faults(FaultProfile(partial_job_rate=1.0))
    results = list(_sdk(s).begin_single_label_classify(["a", "b"], "rt", "single", polling_interval=0.1).result())
    assert all(r.is_error for r in results)
    s.set_faults(FaultProfile(throttle_burst_every=1, throttle_burst_length=2))
    assert _submit(s, _body(["x"])).status_code == 429
