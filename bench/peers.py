"""Side by side against the same emulator: ctc-spark, SynapseML (defaults and tuned) and a plain Spark + SDK baseline.

    make bench-peers                    # sets up bench/.venv-peers (Spark 3.5 + SynapseML 1.1.0) and its jars
    .venv/bin/python bench/peers.py --docs 10000 --cpm 1000

Each system runs as its own process against a fresh emulator (the launcher in bench/emulator_launcher.py, through bench/harness.py, same
seed, same latency model, same quota) on the same parquet corpus; wall clock is process start to exit. Calls and
429s come from the emulator's own counters. The ideal is quota x 25 / 2 documents per minute. Prints a Markdown
table for bench/RESULTS.md.

The emulator, like a token bucket, takes `burst_seconds` (10 s) of its quota at once before its pace applies.
ctc-spark is told so (`burst_calls`, as conf/local.toml tells it of the embedded emulator) unless
--ctc-burst-calls says otherwise (0: pace from the first call); the peers find the burst by retrying 429s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import CLIENTS, HERE, REPO, emulator_stats, launch_emulator, local_submit, write_corpus

from ctc_spark.emulator import EmulatorConfig

PEERS_PY = HERE / ".venv-peers" / "bin" / "python"
PEERS_JARS = HERE / ".jars-peers"


def _ctc_spark(
    target: dict[str, str], cpm: int, burst: int, corpus: Path, work: Path, engine: str, submit_args: list[str]
) -> tuple[list[str], dict[str, str]]:
    config = work / "ctc-spark.toml"
    config.write_text(
        f'[service]\nendpoint = "{target["endpoint"]}"\nkey = "{target["key"]}"\ncalls_per_minute = {cpm}\n'
        f'burst_calls = {burst}\n[engine]\nengine = "{engine}"\n'
    )
    args = [str(REPO / "jobs" / "classify.py"), "--config", str(config), "--project", "bench", "--deployment", "prod"]
    args += ["--kind", "single", "--input", str(corpus), "--tables", str(work / "ctc-tables")]
    return local_submit(args, submit_args)


def _synapseml(target: dict[str, str], corpus: Path, work: Path, tuned: bool) -> list[str]:
    cmd = [str(PEERS_PY), str(CLIENTS / "synapseml_run.py"), "--corpus", str(corpus)]
    cmd += ["--out", str(work / f"synapseml-{tuned}"), "--endpoint", target["endpoint"], "--key", target["key"]]
    cmd += ["--jars", str(PEERS_JARS)]
    if tuned:
        cmd += ["--batch-size", "25", "--concurrency", "10", "--partitions", "2"]
    return cmd


def _sdk(target: dict[str, str], corpus: Path, work: Path) -> list[str]:
    cmd = [sys.executable, str(CLIENTS / "sdk_run.py"), "--corpus", str(corpus), "--out", str(work / "sdk")]
    return [*cmd, "--endpoint", target["endpoint"], "--key", target["key"], "--partitions", "8"]


def _classified(name: str, stdout: str) -> str:
    """Documents that came back with a class, from the system's own last words ('?' when it printed none)."""
    if name == "ctc-spark":
        found = re.search(r"(\d+) succeeded \+ (\d+) errored", stdout)
        return f"{found.group(1)} (+{found.group(2)} error rows)" if found else "?"
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return "?"
    counts = json.loads(lines[-1])
    silent = counts.get("neither")
    return f"{counts['classified']} (+{counts['errors']} error rows" + (f", {silent} empty)" if silent else ")")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--cpm", type=int, default=1000)
    parser.add_argument("--latency", default="{}", help="emulator LatencyModel fields as JSON (default: its own)")
    parser.add_argument(
        "--only", nargs="+", default=["ctc-spark", "synapseml-tuned", "synapseml-defaults", "sdk-mapinpandas"]
    )
    parser.add_argument(
        "--ctc-engine", default="auto", choices=("auto", "driver", "executors"), help="ctc-spark's [engine] engine"
    )
    parser.add_argument(
        "--ctc-burst-calls",
        type=int,
        default=None,
        help="ctc-spark's [service] burst_calls (default: what the emulator takes at once, as conf/local.toml says)",
    )
    parser.add_argument(
        "--submit-args", default="", help="more spark-submit arguments for ctc-spark (e.g. --driver-java-options ...)"
    )
    args = parser.parse_args()
    if any(s.startswith("synapseml") for s in args.only) and not PEERS_PY.exists():
        raise SystemExit("bench/.venv-peers is missing: run `make bench-peers` first")
    work = Path(tempfile.mkdtemp(prefix="ctc-peers-"))
    corpus = work / "corpus"
    corpus.mkdir()
    write_corpus(corpus, args.docs, "peer")
    ideal = args.cpm * 25 / 2
    emulator = EmulatorConfig()
    burst = args.ctc_burst_calls if args.ctc_burst_calls is not None else int(args.cpm * emulator.burst_seconds / 60)
    rows = []
    for i, name in enumerate(args.only):
        tag = f"{name}-{i}" if args.only.count(name) > 1 else name  # a system listed twice runs twice
        out = work / tag  # each run's own tables and outputs: a second run of a system starts afresh too
        out.mkdir()
        proc, target = launch_emulator(args.cpm, args.latency, work / f"ready-{tag}.json")
        try:
            env = dict(os.environ)
            if name == "ctc-spark":
                cmd, env = _ctc_spark(
                    target, args.cpm, burst, corpus, out, args.ctc_engine, shlex.split(args.submit_args)
                )
            elif name.startswith("synapseml"):
                cmd = _synapseml(target, corpus, out, tuned=name.endswith("tuned"))
            else:
                cmd = _sdk(target, corpus, out)
            before = emulator_stats([target["endpoint"]])
            start = time.monotonic()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            wall = time.monotonic() - start
            after = emulator_stats([target["endpoint"]])
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        (work / f"{tag}.log").write_text(done.stdout + done.stderr)
        if done.returncode:
            print(f"{name}: exit {done.returncode}; log in {work / (tag + '.log')}", flush=True)
        got = _classified(name, done.stdout)
        jobs = after["jobs_submitted"] - before["jobs_submitted"]
        calls = (after["submits"] - before["submits"]) + (after["polls"] - before["polls"])
        # A finished run classified the corpus; a stopped one, what the emulator classified before it stopped.
        finished = args.docs if done.returncode == 0 else after["documents_classified"] - before["documents_classified"]
        rate = finished / wall * 60
        row = (
            f"| {name} | {wall:.0f} s | {rate:,.0f} | {rate / ideal:.0%} | {calls / max(1, jobs):.2f} | "
            f"{after['throttled'] - before['throttled']} | {jobs} | {got} | exit {done.returncode} |"
        )
        print(row, flush=True)
        rows.append(row)
    print(f"\n{args.docs:,} documents, {args.cpm} calls/min, ideal {ideal:,.0f} docs/min; logs in {work}")
    print("| system | wall | docs/min | of ideal | calls/job | 429s | jobs | classified | status |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
