"""azure-ai-textanalytics 6.x (TextAnalysisClient, default api-version 2026-05-15-preview) against the emulator.

6.x cannot share a virtualenv with 5.4.0, so `make setup` gives it its own (.venv-sdk6) and the test runs a small
script with that interpreter. A missing venv fails the test: CI runs `make setup`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ctc_spark.emulator import LatencyModel
from ctc_spark.local.corpus import generate_corpus

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SDK6_PYTHON = ROOT / ".venv-sdk6" / "bin" / "python"
SCRIPT = Path(__file__).with_name("sdk6_classify.py")
TRAIN = generate_corpus(300, n_classes=3, seed=71)
DOCS = generate_corpus(12, n_classes=3, seed=72, id_prefix="q")


def test_sdk6_custom_single_label_classification_at_its_default_api_version(make_emulator) -> None:
    assert SDK6_PYTHON.exists(), f"{SDK6_PYTHON} is missing: run `make setup` (it creates .venv-sdk6)"
    server = make_emulator(latency=LatencyModel(queue_seconds=0.01, per_document_seconds=0.0, spread=0.0))
    server.seed_deployment(
        "sdk6", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    job = {
        "endpoint": server.endpoint,
        "key": server.key,
        "project": "sdk6",
        "deployment": "prod",
        "documents": [{"id": d.id, "text": d.text} for d in DOCS],
    }

    done = subprocess.run(
        [str(SDK6_PYTHON), str(SCRIPT)], input=json.dumps(job), capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["sdk_version"].startswith("6.")
    assert out["default_api_version"] == "2026-05-15-preview"
    assert out["api_versions"] == ["2026-05-15-preview"]  # the submit and every poll
    assert out["status"] == "succeeded"
    by_id = {d["id"]: d["classes"] for d in out["documents"]}
    assert sorted(by_id) == sorted(d.id for d in DOCS)
    for doc in DOCS:
        [[category, confidence]] = by_id[doc.id]
        assert category in {label for d in TRAIN for label in d.labels} and 0.0 < confidence <= 1.0
    correct = sum(by_id[d.id][0][0] == d.labels[0] for d in DOCS)
    assert correct >= len(DOCS) - 2, f"only {correct}/{len(DOCS)} classified as labelled"
