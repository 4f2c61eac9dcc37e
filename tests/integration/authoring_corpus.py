"""Labelled documents for the authoring tests: a learnable corpus, its blobs in Azurite, its exported project."""

from __future__ import annotations

import random
from typing import Any

__all__ = ["VOCAB", "exported_project", "learnable_corpus", "upload"]

VOCAB = {
    "Billing": "invoice payment refund charge billing card receipt overdue fee subscription",
    "Shipping": "parcel courier delivery tracking shipment truck warehouse dispatch arrival package",
    "Account": "password login username profile signin locked reset email verification settings",
}
FILLER = [
    "the",
    "a",
    "we",
    "our",
    "please",
    "today",
    "hello",
    "thanks",
    "team",
    "regarding",
    "about",
    "still",
    "yesterday",
    "your",
    "my",
]


def learnable_corpus(kind: str, n_per_class: int = 14, seed: int = 7) -> list[tuple[str, str, list[str]]]:
    """(blob name, text, labels): each class has its own vocabulary; multi-label docs mix two classes' words."""
    rng = random.Random(seed)
    classes = sorted(VOCAB)
    docs: list[tuple[str, str, list[str]]] = []
    for i in range(n_per_class * len(classes)):
        labels = [classes[i % len(classes)]]
        if kind == "multi" and i % 3 == 0:
            labels.append(classes[(i + 1) % len(classes)])
        words = [w for label in labels for w in rng.sample(VOCAB[label].split(), 5)]
        words += rng.sample(FILLER, 6)
        rng.shuffle(words)
        docs.append((f"doc{i:03d}.txt", " ".join(words), sorted(labels)))
    return docs


def upload(connection_string: str, container: str, docs: list[tuple[str, str, list[str]]]) -> None:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection_string)
    client = service.create_container(container)
    for name, text, _ in docs:
        client.upload_blob(name, text.encode("utf-8"))


def exported_project(kind: str, project: str, container: str, docs: list[tuple[str, str, list[str]]]) -> dict:
    project_kind = "CustomSingleLabelClassification" if kind == "single" else "CustomMultiLabelClassification"
    documents: list[dict[str, Any]] = []
    for name, _, labels in docs:
        doc: dict[str, Any] = {"location": name, "language": "en", "dataset": "Train"}
        if kind == "single":
            doc["class"] = {"category": labels[0]}
        else:
            doc["classes"] = [{"category": label} for label in labels]
        documents.append(doc)
    return {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectKind": project_kind,
            "storageInputContainerName": container,
            "projectName": project,
            "language": "en",
            "multilingual": False,
        },
        "assets": {
            "projectKind": project_kind,
            "classes": [{"category": c} for c in sorted(VOCAB)],
            "documents": documents,
        },
    }
