"""Run by `.venv-sdk6/bin/python` (azure-ai-textanalytics 6.x cannot share a venv with 5.4.0).

Reads {endpoint, key, project, deployment, documents: [{id, text}]} as JSON on stdin, classifies the documents
with `TextAnalysisClient.begin_analyze_text_job` and `CustomSingleLabelClassificationOperationAction` at the
SDK's default api-version, and prints {sdk_version, default_api_version, api_versions, status, documents} as JSON.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import parse_qs, urlparse

from azure.ai.textanalytics import TextAnalysisClient
from azure.ai.textanalytics import _version as sdk_version
from azure.ai.textanalytics.models import (
    CustomSingleLabelClassificationActionContent,
    CustomSingleLabelClassificationOperationAction,
    CustomSingleLabelClassificationOperationResult,
    MultiLanguageInput,
    MultiLanguageTextInput,
)
from azure.core.credentials import AzureKeyCredential


def main() -> int:
    job = json.load(sys.stdin)
    seen: list[str] = []

    def record(response: object) -> None:
        url = response.http_request.url  # type: ignore[attr-defined]
        seen.extend(parse_qs(urlparse(url).query).get("api-version", []))

    client = TextAnalysisClient(job["endpoint"], AzureKeyCredential(job["key"]))
    poller = client.begin_analyze_text_job(
        text_input=MultiLanguageTextInput(
            multi_language_inputs=[
                MultiLanguageInput(id=d["id"], text=d["text"], language="en") for d in job["documents"]
            ]
        ),
        actions=[
            CustomSingleLabelClassificationOperationAction(
                name="classify",
                action_content=CustomSingleLabelClassificationActionContent(
                    project_name=job["project"], deployment_name=job["deployment"]
                ),
            )
        ],
        polling_interval=0.1,
        raw_response_hook=record,
    )
    state = poller.result()
    documents = []
    for action in state.actions.items_property or []:
        assert isinstance(action, CustomSingleLabelClassificationOperationResult), type(action)
        for doc in action.results.documents:
            documents.append({"id": doc.id, "classes": [[c.category, c.confidence_score] for c in doc.class_property]})
    print(
        json.dumps(
            {
                "sdk_version": sdk_version.VERSION,
                "default_api_version": client._config.api_version,
                "api_versions": sorted(set(seen)),
                "status": str(getattr(state.status, "value", state.status)),
                "documents": documents,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
