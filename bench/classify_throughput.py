"""Throughput benchmark: a 50,000-document run against an emulator with a quota of N calls per minute.

    .venv/bin/python bench/classify_throughput.py --cpm 1000 6000 --docs 50000
    .venv/bin/python bench/classify_throughput.py --remote 'local[2]' --cpm 1000 6000 --docs 50000  # driver engine
    .venv/bin/python bench/classify_throughput.py --engine driver --resources 4 --cpm 6000  # saturate one driver

The emulator runs in a separate process (bench/emulator_launcher.py) so its CPU does not hide in the
driver's. The ideal is N x 25 / 2 documents per minute: every call allowed, 25 documents a job, one submit
and one poll per job (summed over `--resources` emulators, one per resource). Prints one Markdown table row
per quota and the driver process's peak RSS; paste them into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness import bench_run, emulator_stats, launch_emulator, machine

from ctc_spark.config import (
    BatchSettings,
    EngineSettings,
    ResourceSettings,
    Secret,
    ServiceSettings,
    Settings,
    SparkSettings,
)
from ctc_spark.io.session import get_spark
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # local workers need this interpreter (pyarrow, httpx)


def _peak_rss_mb() -> float:
    """This (driver) process's peak resident set, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _naive(endpoint: str, key: str, cpm: int, texts: list[str], threads: int) -> tuple[float, int]:
    """The naive baseline: per task, submit one request, poll it every second until done, then the next."""
    from ctc_spark.service import AnalyzeDocument, RuntimeClient, is_terminal

    service = ServiceSettings(resources=(ResourceSettings(endpoint, Secret(key), cpm),))
    batches = [texts[i : i + 25] for i in range(0, len(texts), 25)]
    calls = [0]

    def worker(mine: list[list[str]]) -> None:
        with RuntimeClient(service.primary, service) as client:
            for batch in mine:
                docs = [AnalyzeDocument(str(i), t) for i, t in enumerate(batch)]
                job = client.submit(docs, project="bench", deployment="prod", kind="single")
                calls[0] += 1
                while True:
                    time.sleep(1.0)
                    calls[0] += 1
                    if is_terminal(client.get_job(job.operation_location).status):
                        break

    start = time.monotonic()
    pool = [threading.Thread(target=worker, args=(batches[i::threads],)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return len(texts) / (time.monotonic() - start) * 60, calls[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpm", type=int, nargs="+", default=[1000, 6000])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--latency", default="{}", help="emulator LatencyModel fields as JSON")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--remote", default="", help="a Spark Connect URL or local[N]: a Connect session")
    parser.add_argument("--engine", default="auto", choices=("auto", "driver", "executors"))
    parser.add_argument("--resources", type=int, default=1, help="emulators (resources) of --cpm each")
    parser.add_argument("--baseline-docs", type=int, default=1000, help="0 skips the naive baseline")
    parser.add_argument(
        "--warmup-docs",
        type=int,
        default=500,
        help="a small run first, into other tables, so the JVM is warm (0: measure a cold JVM)",
    )
    parser.add_argument("--verbose", action="store_true", help="log the engine's step timings")
    args = parser.parse_args()
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("ctc_spark").setLevel(logging.INFO)
    work = Path(tempfile.mkdtemp(prefix="ctc-bench-"))
    conf = (
        ("spark.ui.enabled", "false"),
        ("spark.sql.shuffle.partitions", "2"),
        ("spark.databricks.delta.snapshotPartitions", "2"),
        ("spark.ui.showConsoleProgress", "false"),
    )
    if args.remote:
        os.environ["SPARK_TESTING"] = "1"  # a local Connect server on an ephemeral port
    spark = get_spark(SparkSettings(master=args.master, conf=conf, remote=args.remote))
    docs = generate_corpus(args.docs, n_classes=10, seed=202, id_prefix="bench")
    corpus = str(work / "corpus")
    corpus_dataframe(spark, docs, kind="single", labelled=False).write.parquet(corpus)
    print(f"machine: {machine()}; corpus: {args.docs} documents at {corpus}", flush=True)
    print(f"session: {type(spark).__module__}; engine: {args.engine}; resources: {args.resources}", flush=True)
    rows = []
    for cpm in args.cpm:
        launched = [launch_emulator(cpm, args.latency, work / f"ready-{cpm}-{i}.json") for i in range(args.resources)]
        procs = [p for p, _ in launched]
        target = launched[0][1]
        endpoints = [t["endpoint"] for _, t in launched]
        try:
            settings = Settings(
                service=ServiceSettings(
                    resources=tuple(
                        ResourceSettings(t["endpoint"], Secret(t["key"]), cpm, name=f"r{i}")
                        for i, (_, t) in enumerate(launched)
                    )
                ),
                batch=BatchSettings(),
                engine=EngineSettings(args.engine),
            )
            if args.warmup_docs:
                warm = corpus_dataframe(
                    spark,
                    generate_corpus(args.warmup_docs, n_classes=10, seed=cpm, id_prefix="warm"),
                    kind="single",
                    labelled=False,
                )
                bench_run(warm, settings, work / f"warmup-{cpm}", f"warmup-{cpm}", quiet=True)
            before = emulator_stats(endpoints)
            start, cpu = time.monotonic(), time.process_time()
            summary = bench_run(spark.read.parquet(corpus), settings, work / f"tables-{cpm}", f"bench-{cpm}")
            wall, cpu = time.monotonic() - start, time.process_time() - cpu
            after = emulator_stats(endpoints)
            jobs = after["jobs_submitted"] - before["jobs_submitted"]
            calls = (after["submits"] - before["submits"]) + (after["polls"] - before["polls"])
            ideal = cpm * args.resources * 25 / 2
            e2e = summary.succeeded_docs / wall * 60
            service = summary.succeeded_docs / max(1e-9, summary.service_seconds) * 60
            baseline = ""
            if args.baseline_docs:
                rate, _ = _naive(
                    target["endpoint"], target["key"], cpm, [d.text for d in docs[: args.baseline_docs]], threads=2
                )
                baseline = f"{rate:,.0f} ({rate / ideal:.0%}); ours: {service / rate:.1f}x"
            row = (
                f"| {cpm} | {args.docs:,} | {wall:.0f} s | {e2e:,.0f} | {e2e / ideal:.0%} | "
                f"{summary.service_seconds:.0f} s | {service:,.0f} | {service / ideal:.0%} | "
                f"{calls / max(1, jobs):.2f} | "
                f"{after['throttled'] - before['throttled']} | {baseline} |"
            )
            print(row, flush=True)
            print(
                f"breakdown: planning {summary.planning_seconds:.1f} s, classify phase {summary.service_seconds:.1f} s, "
                f"reconcile and record {wall - summary.planning_seconds - summary.service_seconds:.1f} s; "
                f"{summary.tasks} streaming task(s), {summary.commits} ledger commits; "
                f"{calls / max(1e-9, summary.service_seconds):.1f} calls/s; driver process CPU {cpu:.1f} s "
                f"({calls / max(1e-9, cpu):.0f} calls per CPU-second); driver peak RSS {_peak_rss_mb():.0f} MB",
                flush=True,
            )
            rows.append(row)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
    print(
        "\n| N (calls/min) | docs | wall | docs/min end-to-end | of ideal | classify phase | docs/min in phase "
        "| of ideal | calls/job | 429s | naive baseline docs/min |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
