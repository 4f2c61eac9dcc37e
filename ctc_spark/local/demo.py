"""`make demo`: train -> evaluate -> deploy -> classify -> SQL on the embedded default, with no Azure account.

Starts Azurite and the emulator (unless already running), generates a labelled sample and a larger
unlabelled corpus, trains and deploys a model, classifies the corpus through `spark-submit
jobs/classify.py`, prints SQL over the result tables, and stops what it started. Safe to run again:
blobs and table rows are keyed, and already-classified documents are skipped.

The demo talks only to the services it runs: AZURE_LANGUAGE_ENDPOINT, AZURE_LANGUAGE_KEY,
AZURE_STORAGE_CONNECTION_STRING and CTC_SPARK_* in the shell are ignored (and said so once), and every
subprocess gets the local services' settings in a cleaned environment.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ctc_spark.config import Secret, Settings, is_loopback_url, load_settings
from ctc_spark.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[2]
PROJECT, MODEL, DEPLOYMENT = "demo-support-tickets", "model-1", "production"
LABELLED_DOCS, CORPUS_DOCS, CLASSES = 400, 5000, 5
NOISE = 0.7  # share of words drawn from other classes: about 93% accuracy, so the evaluation is worth reading


def _say(msg: str) -> None:
    print(f"\n== {msg}", flush=True)


def _prepare_data(spark: SparkSession, home: Path, docs: int) -> tuple[Path, Path]:
    from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

    labelled, corpus = home / "labelled", home / f"corpus-{docs}"
    if not labelled.exists():
        sample = generate_corpus(LABELLED_DOCS, n_classes=CLASSES, seed=1, id_prefix="train", noise=NOISE)
        corpus_dataframe(spark, sample, kind="single").write.mode("overwrite").parquet(str(labelled))
    if not corpus.exists():
        unlabelled = generate_corpus(docs, n_classes=CLASSES, seed=2, id_prefix="ticket", noise=NOISE)
        corpus_dataframe(spark, unlabelled, kind="single").write.mode("overwrite").parquet(str(corpus))
    return labelled, corpus


def _train_and_deploy(settings: Settings, spark: SparkSession, labelled: Path, tables: str, home: Path) -> None:
    from ctc_spark.io.tables import TableLocation
    from ctc_spark.service import AuthoringClient
    from ctc_spark.training import tables as mt
    from ctc_spark.training.report import evaluation_table, write_report
    from ctc_spark.training.workflow import (
        TrainOptions,
        deploy_model,
        expiry_warnings,
        labelled_docs,
        record_training,
        train_model,
    )

    client = AuthoringClient(settings.service.primary, settings.service)
    df = spark.read.parquet(str(labelled))
    docs = labelled_docs(df, kind="single")
    options = TrainOptions(
        project=PROJECT, kind="single", model_label=MODEL, split=80, poll_interval=0.5, wait_for_running=True
    )
    _say(f"train {PROJECT}/{MODEL} on {len(docs)} labelled documents (80/20 split)")
    result = train_model(settings, client, docs, options)
    summary = record_training(spark, TableLocation.parse(tables), options, result, client)
    _say("evaluation on the held-out 20%")
    print(evaluation_table(summary))
    print(f"report: {write_report(summary, home / 'report', project=PROJECT, model=MODEL)}")
    _say(f"deploy {MODEL} as {DEPLOYMENT}")
    deployed = deploy_model(client, PROJECT, MODEL, DEPLOYMENT, poll_interval=0.5)
    row = mt.deployment_row(
        PROJECT, DEPLOYMENT, deployed, model_label=MODEL, model_expiration=result.model.get("modelExpirationDate")
    )
    mt.write_rows(spark, TableLocation.parse(tables), mt.DEPLOYMENTS, [row])
    print(
        f"deployment {DEPLOYMENT}: model {deployed.get('modelId')}, expires {deployed.get('deploymentExpirationDate')}"
    )
    dates = {"model": result.model.get("modelExpirationDate"), "deployment": deployed.get("deploymentExpirationDate")}
    for line in expiry_warnings(f"{PROJECT}/{DEPLOYMENT}", dates, date.today()):
        print(line)


def _classify(corpus: Path, tables: str, config: Path, docs: int, env: dict[str, str]) -> None:
    from ctc_spark.io.logs import log4j2_java_option

    jars = ",".join(str(p) for p in sorted((ROOT / ".jars").glob("*.jar")))
    java_option = log4j2_java_option()
    cmd = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master",
        "local[2]",
        "--jars",
        jars,
        *(["--driver-java-options", java_option] if java_option else []),
        "--conf",
        "spark.ui.showConsoleProgress=false",
        "--conf",
        "spark.log.level=WARN",
        str(ROOT / "jobs" / "classify.py"),
        "--config",
        str(config),
        "--project",
        PROJECT,
        "--deployment",
        DEPLOYMENT,
        "--kind",
        "single",
        "--input",
        str(corpus),
        "--tables",
        tables,
    ]
    env = {**env, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    _say(f"classify {docs} documents: spark-submit jobs/classify.py")
    subprocess.run(cmd, check=True, env=env)


def _sql(spark: SparkSession, tables: str) -> None:
    from ctc_spark.engine.ledger.tables import RESULTS, classes_query
    from ctc_spark.io.tables import TableLocation

    results = TableLocation.parse(tables).name(RESULTS)
    query = (
        f"SELECT coalesce(category, concat('error: ', error_code)) AS class, count(*) AS documents,\n"
        f"       round(avg(confidence), 3) AS avg_confidence\n"
        f"FROM {results}\nWHERE project_name = '{PROJECT}' AND deployment_name = '{DEPLOYMENT}'\n"
        f"GROUP BY 1 ORDER BY documents DESC"
    )
    _say("SQL over the result tables")
    print(query)
    spark.sql(query).show(truncate=False)
    errors = f"SELECT count(*) AS error_rows FROM {results} WHERE error_code IS NOT NULL"
    print(errors)
    spark.sql(errors).show()
    print("one row per (document, class):\n" + classes_query(results) + " LIMIT 5")
    spark.sql(classes_query(results) + " LIMIT 5").show(truncate=False)
    evaluations = TableLocation.parse(tables).name("evaluations")
    summary = (
        f"SELECT scope, coalesce(nullif(class_name, ''), '(all)') AS class, round(precision, 3) AS precision,\n"
        f"       round(recall, 3) AS recall, round(f1, 3) AS f1\n"
        f"FROM {evaluations}\nWHERE project_name = '{PROJECT}' AND model_label = '{MODEL}' AND scope <> 'confusion'\n"
        f"ORDER BY scope = 'class', scope, class"
    )
    _say("the evaluation summary, from the evaluations table")
    print(summary)
    spark.sql(summary).show(truncate=False)


def _stop_started(settings: Settings, services: Any, local_down: Any) -> None:
    # A service that was already running belongs to the user: stop only what this demo started.
    started = [s.name for s in (services.azurite, services.emulator) if s.started]
    kept = [s.name for s in (services.azurite, services.emulator) if not s.started]
    if started:
        only = f" --only {started[0]}" if len(started) == 1 else ""
        _say(f"stop the services this demo started (ctc-spark local down{only})")
        local_down(settings, only=started)
    if kept:
        print(f"\nleft running: {', '.join(kept)} (already running before the demo)")


def _local_settings(config: Path, services: Any) -> Settings:
    """The settings of the services the demo runs: their endpoint, key and storage, whatever the shell says.

    Raises:
        ConfigError: the configured emulator does not listen on a loopback address.
    """
    if not is_loopback_url(services.endpoint):
        raise ConfigError(f"the demo only runs against a local emulator, not {services.endpoint}", source=str(config))
    settings = load_settings(config, env=services.environment())
    primary = settings.service.primary
    local = replace(primary, endpoint=services.endpoint, key=Secret(services.key), name="local")
    return settings.with_resources(local)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ctc_spark.local.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=CORPUS_DOCS, help=f"documents to classify (default {CORPUS_DOCS})")
    parser.add_argument(
        "--config",
        type=Path,
        default=ROOT / "conf" / "local.toml",
        help="where the local services listen and keep their state (default: conf/local.toml)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from ctc_spark.io.logs import configure_logging
    from ctc_spark.io.session import get_spark
    from ctc_spark.local.services import clean_environment, local_down, local_up

    args = _parse(argv)
    configure_logging()
    started = time.monotonic()
    cleaned, ignored = clean_environment(os.environ)
    if ignored:
        print(f"ignored {', '.join(ignored)} from the shell: the demo uses only the services it starts", flush=True)
        for name in ignored:  # nothing in this process (SDKs included) can fall back to them either
            del os.environ[name]
    config = args.config.resolve()
    base = load_settings(config, env={})
    home = (ROOT / base.emulator.home / "demo").resolve()
    home.mkdir(parents=True, exist_ok=True)
    tables = str(home / "tables")
    _say("start Azurite and the emulator (ctc-spark local up)")
    services = local_up(base)
    try:
        settings = _local_settings(config, services)
        spark = get_spark(settings.spark)
        labelled, corpus = _prepare_data(spark, home, args.docs)
        _train_and_deploy(settings, spark, labelled, tables, home)
        _classify(corpus, tables, config, args.docs, {**cleaned, **services.environment()})
        _sql(spark, tables)
    finally:
        _stop_started(base, services, local_down)
    print(f"\ndemo finished in {time.monotonic() - started:.0f}s; tables in {tables}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
