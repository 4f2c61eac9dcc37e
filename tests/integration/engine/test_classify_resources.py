"""Several resources, each with its own key and quota: batches spread by quota, every document lands once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings, Settings
from ctc_spark.engine.ledger.tables import JOBS, RESULTS
from ctc_spark.engine.run import run_classification
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration

TRAIN = generate_corpus(400, n_classes=4, seed=31, id_prefix="train")


def test_batches_spread_over_resources_by_quota(spark, make_emulator, tmp_path: Path) -> None:
    from ctc_spark.emulator import LatencyModel

    fast = LatencyModel(queue_seconds=0.05, per_document_seconds=0.001, spread=0.1)
    big, small = make_emulator(latency=fast), make_emulator(latency=fast)
    for server in (big, small):
        server.seed_deployment(
            "multi", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
        )
    resources = (
        ResourceSettings(big.endpoint, Secret(big.key), calls_per_minute=45_000, name="big"),
        ResourceSettings(small.endpoint, Secret(small.key), calls_per_minute=15_000, name="small"),
    )
    docs = generate_corpus(2000, n_classes=4, seed=32)
    tables = str(tmp_path / "tables")
    before = {"big": big.stats()["submits"], "small": small.stats()["submits"]}
    summary = run_classification(
        corpus_dataframe(spark, docs, kind="single"),
        project="multi",
        deployment="prod",
        kind="single",
        tables=tables,
        settings=Settings(service=ServiceSettings(resources=resources)),
    )
    got = {"big": big.stats()["submits"] - before["big"], "small": small.stats()["submits"] - before["small"]}
    assert summary.succeeded_docs == 2000 and sum(got.values()) == summary.submits
    assert got["small"] >= 5 and 1.8 < got["big"] / got["small"] < 5.0, got  # quotas are 3:1
    location = TableLocation.parse(tables)
    ledger = {r.resource for r in read_table(spark, location, JOBS).select("resource").collect()}
    assert ledger == {"big", "small"}  # the ledger names the resource, never its key
    rows = read_table(spark, location, RESULTS).select("doc_id").collect()
    assert sorted(r.doc_id for r in rows) == sorted(d.id for d in docs)


def test_resources_serving_different_models_refuse_the_run_before_any_call(
    spark, make_emulator, tmp_path: Path
) -> None:
    from ctc_spark.errors import ConfigError

    first, second = make_emulator(), make_emulator(keys=("second-resource-key",))
    for server, label in ((first, None), (second, "retrained")):
        server.seed_deployment(
            "multi",
            "prod",
            kind="single",
            texts=[d.text for d in TRAIN],
            labels=[d.labels for d in TRAIN],
            model_label=label,
        )
    resources = (
        ResourceSettings(first.endpoint, Secret(first.key), calls_per_minute=6000, name="first"),
        ResourceSettings(second.endpoint, Secret("second-resource-key"), calls_per_minute=6000, name="second"),
    )
    before = first.stats()["submits"] + second.stats()["submits"]
    with pytest.raises(ConfigError, match=r"'first' serves prod-seeded .*'second' serves retrained") as caught:
        run_classification(
            corpus_dataframe(spark, generate_corpus(50, n_classes=4, seed=33), kind="single"),
            project="multi",
            deployment="prod",
            kind="single",
            tables=str(tmp_path / "tables"),
            settings=Settings(service=ServiceSettings(resources=resources)),
        )
    assert first.stats()["submits"] + second.stats()["submits"] == before
    assert "second-resource-key" not in str(caught.value) and first.key not in str(caught.value)
