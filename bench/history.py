"""Does a nightly run cost more after a year of history? A run of new documents into tables that already hold N rows.

    .venv/bin/python bench/history.py --history 0 1000000 5000000 --docs 2000 --cpm 6000

For each history size: fresh tables whose `results` hold N rows of the same deployment in nightly-sized files
(`--file-rows` rows each) and whose `jobs` hold a year of job rows (`--nights` nights of `--jobs-per-night`), all
written in this process; then, by spark-submit (the launch of `bench/peers.py`), one nightly run of `--docs` new
documents, a no-op re-run of the same corpus and a second nightly run of other new documents, then
`jobs/maintain.py` and a third nightly run of as many other new documents (is a run after `maintain` slower than
the one before it? The first is not the comparison: it creates the `leases` table holding its own lease, the
cheapest lease there is, and no earlier night's jobs are young enough to probe). Records each run's wall time and
`runs.step_seconds`, and each Delta write of the runs (`DESCRIBE HISTORY`): its operation, duration
(`executionTimeMs`) and the files it scanned (`numTargetFilesAfterSkipping` of `numTargetFilesBeforeSkipping`,
Databricks only) or wrote. Prints Markdown tables for bench/RESULTS.md.

A year of small nights, then `maintain`: `--history 36500 --file-rows 100 --docs 100` (365 files of 100 rows in
`results`, 365 nights of job events in `jobs`).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from harness import REPO, emulator_stats, launch_emulator, local_submit, write_corpus

from ctc_spark.config import ResourceSettings, Secret, ServiceSettings, SparkSettings
from ctc_spark.engine.ledger.tables import JOBS, RESULTS, RUNS, ensure_engine_tables
from ctc_spark.engine.planning.model import read_deployment_model
from ctc_spark.io.layout import describe_detail
from ctc_spark.io.session import get_spark
from ctc_spark.io.tables import TableLocation, read_table

PROJECT, DEPLOYMENT = "bench", "prod"
STEPS = ("planning", "reconciliation", "recording")


def _seed(
    spark: Any, location: TableLocation, rows: int, file_rows: int, model_id: str | None, nights: int, jobs: int
) -> None:
    """`results` with `rows` history rows in files of `file_rows`; `jobs` with `nights` x `jobs` rows, a file a night."""
    from pyspark.sql import functions as F

    ensure_engine_tables(spark, location)
    now = datetime.now(timezone.utc)
    if rows:
        night = F.floor(F.col("id") / file_rows)
        history = spark.range(rows).select(
            F.concat(F.lit("hist-"), F.col("id").cast("string")).alias("doc_id"),
            F.lit("c1").alias("category"),
            F.lit(0.9).alias("confidence"),
            F.array(F.struct(F.lit("c1").alias("category"), F.lit(0.9).alias("confidence"))).alias("classes"),
            F.lit(None).cast("string").alias("error_code"),
            F.lit(None).cast("string").alias("error_message"),
            F.lit(PROJECT).alias("project_name"),
            F.lit(DEPLOYMENT).alias("deployment_name"),
            F.lit("single").alias("kind"),
            F.lit("2023-04-01").alias("api_version"),
            F.concat(F.lit("job-"), F.floor(F.col("id") / 25).cast("string")).alias("job_id"),
            F.concat(F.lit("night-"), night.cast("string")).alias("run_id"),
            F.sha2(F.col("id").cast("string"), 256).alias("text_sha256"),
            F.lit(now - timedelta(days=1)).alias("classified_at"),
            F.lit("m1").alias("model_label"),
            F.lit(model_id).cast("string").alias("model_id"),
        )
        files = max(1, -(-rows // file_rows))
        history.repartitionByRange(files, "doc_id").write.format("delta").mode("append").save(location.path(RESULTS))
    if nights and jobs:
        day = F.floor(F.col("id") / jobs)
        at = F.timestamp_seconds(F.lit(now.timestamp()) - (day + 1) * 86400)
        events = spark.range(nights * jobs).select(
            F.concat(F.lit("batch-"), F.col("id").cast("string")).alias("batch_id"),
            F.concat(F.lit("night-"), day.cast("string")).alias("run_id"),
            F.lit(PROJECT).alias("project_name"),
            F.lit(DEPLOYMENT).alias("deployment_name"),
            F.lit("single").alias("kind"),
            F.array(F.lit("x")).alias("doc_ids"),
            F.array(F.lit("y")).alias("text_sha256s"),
            F.lit(1000).cast("long").alias("n_chars"),
            F.lit("default").alias("resource"),
            F.concat(F.lit("job-"), F.col("id").cast("string")).alias("job_id"),
            F.lit(None).cast("string").alias("operation_location"),
            at.alias("submitted_at"),
            (at + F.expr("INTERVAL 24 HOURS")).alias("expires_at"),
            F.lit("succeeded").alias("status"),
            F.lit(1).alias("attempts"),
            F.lit(None).cast("string").alias("last_error"),
            at.alias("updated_at"),
        )
        events.repartitionByRange(nights, "submitted_at").write.format("delta").mode("append").save(location.path(JOBS))


def _submit(app: list[str], log: Path) -> float:
    """Run `app` by spark-submit; its wall seconds (process start to exit).

    Raises:
        SystemExit: it failed; names its log.
    """
    cmd, env = local_submit(app, [])
    start = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    wall = time.monotonic() - start
    if done.returncode:
        raise SystemExit(f"{app[0]} failed (exit {done.returncode}); log in {log}")
    return wall


def _classify(config: Path, corpus: Path, tables: Path, run_id: str, log: Path) -> float:
    app = [str(REPO / "jobs" / "classify.py"), "--config", str(config), "--project", PROJECT]
    app += ["--deployment", DEPLOYMENT, "--kind", "single", "--input", str(corpus), "--tables", str(tables)]
    return _submit([*app, "--run-id", run_id], log)


def _writes(spark: Any, location: TableLocation, since: datetime) -> list[str]:
    """One line per table: the Delta writes committed since `since`, their durations and files scanned."""
    lines = []
    for table in (RESULTS, JOBS, RUNS):
        rows = spark.sql(f"DESCRIBE HISTORY {location.name(table)}").filter(f"timestamp >= '{since:%Y-%m-%d %H:%M:%S}'")
        for r in rows.orderBy("version").collect():
            m = dict(r.operationMetrics or {})
            ms = m.get("executionTimeMs", "-")
            scanned = f"{m.get('numTargetFilesAfterSkipping', '-')}/{m.get('numTargetFilesBeforeSkipping', '-')}"
            files = m.get("numFiles", m.get("numTargetFilesAdded", "-"))
            rows = m.get("numOutputRows", "-")
            lines.append(f"| {table} | {r.version} | {r.operation} | {ms} | {scanned} | {files} | {rows} |")
    return lines


def _steps(spark: Any, location: TableLocation, run_id: str) -> str:
    row = read_table(spark, location, RUNS).filter(f"run_id = '{run_id}'").first()
    steps = dict(row.step_seconds or {}) if row else {}
    return " / ".join(f"{steps.get(s, 0.0):.1f}" for s in STEPS)


def _files(spark: Any, location: TableLocation) -> str:
    return ", ".join(f"{t} {describe_detail(spark, location, t).num_files}" for t in (RESULTS, JOBS, RUNS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=int, nargs="+", default=[0, 1_000_000, 5_000_000], help="history rows")
    parser.add_argument("--docs", type=int, default=2000, help="new documents of the nightly run")
    parser.add_argument("--cpm", type=int, default=6000, help="the emulator's quota and the run's")
    parser.add_argument("--latency", default="{}", help="emulator LatencyModel fields as JSON (default: its own)")
    parser.add_argument("--file-rows", type=int, default=5900, help="history rows per file (a night's results)")
    parser.add_argument("--nights", type=int, default=365, help="nights of job rows in `jobs`")
    parser.add_argument("--jobs-per-night", type=int, default=80)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ctc-history-"))
    proc, target = launch_emulator(args.cpm, args.latency, work / "ready-history.json")
    spark = get_spark(SparkSettings(master="local[2]", conf=(("spark.ui.enabled", "false"),)))
    summary, writes = [], []
    try:
        resource = ResourceSettings(endpoint=target["endpoint"], key=Secret(target["key"]), calls_per_minute=args.cpm)
        model = read_deployment_model(ServiceSettings(resources=(resource,)), PROJECT, DEPLOYMENT)
        config = work / "ctc-spark.toml"
        config.write_text(
            f'[service]\nendpoint = "{target["endpoint"]}"\nkey = "{target["key"]}"\ncalls_per_minute = {args.cpm}\n'
        )
        for n in args.history:
            tables = work / f"tables-{n}"
            location = TableLocation.parse(str(tables))
            t0 = time.monotonic()
            _seed(spark, location, n, args.file_rows, model.model_id, args.nights, args.jobs_per_night)
            seeded, seed_files = time.monotonic() - t0, _files(spark, location)
            corpus = work / f"corpus-{n}"
            corpus.mkdir()
            write_corpus(corpus, args.docs, f"night-{n}")
            since = datetime.now(timezone.utc) - timedelta(seconds=1)
            before = emulator_stats([target["endpoint"]])
            nightly = _classify(config, corpus, tables, f"nightly-{n}", work / f"nightly-{n}.log")
            submits = emulator_stats([target["endpoint"]])["submits"] - before["submits"]
            noop = _classify(config, corpus, tables, f"noop-{n}", work / f"noop-{n}.log")
            writes += [f"| **{n:,} history rows** | | | | | | |", *_writes(spark, location, since)]
            second = work / f"corpus-{n}-second"
            write_corpus(second, args.docs, f"second-{n}-", seed=404)
            before_maintain = _classify(config, second, tables, f"second-{n}", work / f"second-{n}.log")
            maintain = _submit(
                [str(REPO / "jobs" / "maintain.py"), "--tables", str(tables)], work / f"maintain-{n}.log"
            )
            maintained = _files(spark, location)
            later = work / f"corpus-{n}-after"
            write_corpus(later, args.docs, f"after-{n}-", seed=303)
            after = _classify(config, later, tables, f"after-{n}", work / f"after-{n}.log")
            maintained_after = _files(spark, location)
            summary.append(
                f"| {n:,} | {seed_files} | {seeded:.0f} s | {nightly:.1f} s ({submits} submits) | "
                f"{_steps(spark, location, f'nightly-{n}')} | {noop:.1f} s | {_steps(spark, location, f'noop-{n}')} | "
                f"{before_maintain:.1f} s | {maintain:.1f} s: {maintained} | {after:.1f} s ({maintained_after}) |"
            )
            print(summary[-1], flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        spark.stop()
    print(f"\n{args.docs:,} new documents a night, {args.cpm} calls/min; logs in {work}")
    print(
        "| history rows | live files after seeding | seeding | nightly run, wall | its planning / reconciliation / "
        "recording (s) | no-op re-run, wall | its planning / reconciliation / recording (s) | a second nightly run "
        "before maintain | maintain: live files | the next nightly run after maintain (live files then) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(summary))
    print("\nEach Delta write of the nightly and no-op runs (`DESCRIBE HISTORY`):\n")
    print(
        "| table | version | operation | executionTimeMs | files scanned (after/before skipping) | files written | rows |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(writes))


if __name__ == "__main__":
    main()
