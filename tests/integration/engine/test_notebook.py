"""notebooks/classify.py runs top to bottom against the emulator, with stand-ins for dbutils and display."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration

NOTEBOOK = Path(__file__).resolve().parents[3] / "notebooks" / "classify.py"
SCHEMA = "spark_catalog.ctc_notebook"
TRAIN = generate_corpus(300, n_classes=4, seed=51, id_prefix="train")


class _Widgets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.declared: list[str] = []

    def text(self, name: str, default: str, label: str = "") -> None:
        self.declared.append(name)

    def dropdown(self, name: str, default: str, choices: list[str], label: str = "") -> None:
        assert default in choices
        self.declared.append(name)

    def get(self, name: str) -> str:
        assert name in self.declared, f"widget {name} read before it is declared"
        return self.values[name]


class _Secrets:
    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self.values = values

    def get(self, scope: str, key: str) -> str:
        return self.values[(scope, key)]


def test_notebook_classifies_and_displays_the_results(spark, make_emulator, monkeypatch, capsys) -> None:
    from ctc_spark.emulator import LatencyModel

    emulator = make_emulator(latency=LatencyModel(queue_seconds=0.05, per_document_seconds=0.002, spread=0.2))
    emulator.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    docs = generate_corpus(30, n_classes=4, seed=52)
    corpus_dataframe(spark, docs, kind="single").select("id", "text").createOrReplaceTempView("notebook_corpus")
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    widgets = _Widgets(
        {
            "endpoint": emulator.endpoint,
            "key_secret": "ctc/language-key",
            "project": "tickets",
            "deployment": "prod",
            "kind": "single",
            "input": "notebook_corpus",
            "tables": SCHEMA,
        }
    )
    dbutils = types.SimpleNamespace(widgets=widgets, secrets=_Secrets({("ctc", "language-key"): emulator.key}))
    # On Databricks the loader reads named secrets through databricks.sdk.runtime's dbutils.
    monkeypatch.setitem(sys.modules, "databricks.sdk.runtime", types.SimpleNamespace(dbutils=dbutils))
    shown: list[Any] = []
    source = NOTEBOOK.read_text(encoding="utf-8")
    assert source.startswith("# Databricks notebook source\n")
    exec(compile(source, str(NOTEBOOK), "exec"), {"spark": spark, "dbutils": dbutils, "display": shown.append})

    printed = capsys.readouterr().out
    assert "30 input = 0 skipped + 30 succeeded + 0 errored" in printed
    assert emulator.key not in printed
    results, classes, errors, runs = (df.collect() for df in shown)
    assert sorted(r.doc_id for r in results) == sorted(d.id for d in docs)
    assert sum(r["count"] for r in classes) == 30 and errors == []
    assert runs[0].status == "succeeded" and runs[0].input_docs == 30
