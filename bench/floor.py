"""The floor under any spark-submit client on this machine: what it pays before its first call and after its last.

    .venv/bin/python bench/floor.py --runs 3 --latency '{"queue_seconds": 2.0, "per_document_seconds": 0.04}'

Times `bench/clients/minimal_client.py` under `spark-submit --master local[2]` (process start to exit): a Delta
session, the first 25 documents of the input, one Delta commit before the calls and one after, no call at all.
Then bounds what any client that starts the same way can reach, generously (it paces at exactly the quota,
with no safety margin, and waits for nothing but the last job's median latency under the latency model given,
by default the emulator's own):

    best share of the ideal = Q / (floor + Q + last job), with Q = calls / quota = documents / 25 x 2 / quota

Two launches: spark-submit as it comes, and a tuned JVM (an AppCDS archive of Spark's classes dumped by a first
run, C1 only, no UI), the fastest start found here. Prints a Markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from harness import CLIENTS, local_submit, write_corpus

from ctc_spark.emulator import LatencyModel

TARGETS = ((10_000, 1_000, 0.85), (50_000, 6_000, 0.90))
_QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"  # the archive's own warnings (classes it cannot hold)


def _submit(corpus: Path, tables: Path, java_options: str, extra: list[str]) -> tuple[float, dict[str, float]]:
    options = ["--driver-java-options", java_options] if java_options else []
    cmd, env = local_submit([str(CLIENTS / "minimal_client.py"), str(corpus), str(tables)], [*extra, *options])
    start = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode:
        raise SystemExit(f"the minimal client failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    line = next(x for x in done.stdout.splitlines() if x.startswith("FLOOR "))
    return wall, json.loads(line.removeprefix("FLOOR "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each launch (default 3)")
    parser.add_argument("--latency", default="{}", help="emulator LatencyModel fields as JSON (default: its own)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ctc-floor-"))
    corpus = work / "corpus"
    corpus.mkdir()
    write_corpus(corpus, 1000, "floor")
    archive = work / "spark.jsa"
    # The archive is dumped at the exit of one run of the same client (its classes, this JDK, this classpath).
    _submit(corpus, work / "dump", f"-XX:ArchiveClassesAtExit={archive} {_QUIET}", [])
    launches = {
        "spark-submit as it comes": ("", []),
        "tuned JVM (AppCDS, C1 only, no UI)": (
            f"-XX:SharedArchiveFile={archive} -XX:TieredStopAtLevel=1 {_QUIET}",
            ["--conf", "spark.ui.enabled=false"],
        ),
    }
    last_job = LatencyModel(**json.loads(args.latency)).seconds(25, 0.0)  # the median for a full request
    print(
        "| launch | floor walls (s) | median | steps of the median run (s) | "
        + " | ".join(f"best at {n:,} x {cpm} (target {t:.0%})" for n, cpm, t in TARGETS)
        + " |"
    )
    print("|---|---|---|---|" + "---|" * len(TARGETS))
    for name, (options, extra) in launches.items():
        results = [_submit(corpus, work / f"t-{name[:5]}-{i}", options, extra) for i in range(args.runs)]
        walls = [wall for wall, _ in results]
        median = statistics.median(walls)
        steps = min(results, key=lambda r: abs(r[0] - median))[1]
        bounds = []
        for n, cpm, _ in TARGETS:
            quota_seconds = n / 25 * 2 / cpm * 60
            bounds.append(quota_seconds / (median + quota_seconds + last_job))
        print(
            f"| {name} | {', '.join(f'{w:.1f}' for w in walls)} | {median:.1f} | "
            + ", ".join(f"{k} {v}" for k, v in steps.items())
            + " | "
            + " | ".join(f"{b:.1%}" for b in bounds)
            + " |",
            flush=True,
        )
    print(f"\nlast job: {last_job:.1f} s (median latency of 25 documents); work in {work}")


if __name__ == "__main__":
    main()
