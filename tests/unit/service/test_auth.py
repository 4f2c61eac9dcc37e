"""Entra ID authentication: bearer tokens fetched once and cached, no key header."""

from __future__ import annotations

import httpx
from service_fakes import EP, _job, _settings

from ctc_spark.config import ResourceSettings
from ctc_spark.service import RuntimeClient


def test_entra_id_tokens_are_cached() -> None:
    class Token:
        token, expires_on = "tok-1", 4_102_444_800

    class Credential:
        calls = 0

        def get_token(self, scope: str) -> Token:
            Credential.calls += 1
            assert scope == "https://cognitiveservices.azure.com/.default"
            return Token()

    seen: list[httpx.Request] = []
    client = RuntimeClient(
        ResourceSettings(EP, None),
        _settings(use_entra_id=True),
        credential=Credential(),
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json=_job())),
    )
    client.get_job("job-1")
    client.get_job("job-1")
    assert seen[0].headers["Authorization"] == "Bearer tok-1" and Credential.calls == 1
    assert "Ocp-Apim-Subscription-Key" not in seen[0].headers
