"""Side by side against the same emulator: ctc-spark, SynapseML (defaults and tuned) and a plain Spark + SDK baseline.

    make bench-peers                    # sets up bench/.venv-peers (Spark 3.5 + SynapseML 1.1.0) and its jars
    .venv/bin/python bench/peers.py --docs 10000 --cpm 1000

Each system runs as its own process against a fresh emulator (the launcher in bench/emulator_launcher.py, same
seed, same latency model, same quota) on the same parquet corpus; wall clock is process start to exit. Calls and
429s come from the emulator's own counters. The ideal is quota x 25 / 2 documents per minute. Prints a Markdown
table for bench/RESULTS.md.
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

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from ctc_spark.local.corpus import generate_corpus

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS_PY = HERE / ".venv-peers" / "bin" / "python"
PEERS_JARS = HERE / ".jars-peers"


def launch_emulator(cpm: int, latency: str, work: Path, name: str) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """A seeded emulator (`bench/prod`) in its own process; its `{endpoint, key}` once it answers."""
    ready = work / f"ready-{name}.json"
    cmd = [sys.executable, str(HERE / "emulator_launcher.py"), "--cpm", str(cpm), "--ready-file", str(ready)]
    proc = subprocess.Popen([*cmd, "--latency", latency])
    deadline = time.monotonic() + 120
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the emulator launcher did not start (exit {proc.returncode})")
        time.sleep(0.2)
    time.sleep(0.2)
    return proc, json.loads(ready.read_text())


def emulator_stats(endpoint: str) -> dict[str, int]:
    """The emulator's counters (submits, polls, throttled, ...)."""
    return dict(httpx.get(f"{endpoint}/emulator/stats", timeout=10).json())


def _ctc_spark(
    target: dict[str, str], cpm: int, corpus: Path, work: Path, engine: str, submit_args: list[str]
) -> tuple[list[str], dict[str, str]]:
    config = work / "ctc-spark.toml"
    config.write_text(
        f'[service]\nendpoint = "{target["endpoint"]}"\nkey = "{target["key"]}"\ncalls_per_minute = {cpm}\n'
        f'[engine]\nengine = "{engine}"\n'
    )
    args = [str(REPO / "jobs" / "classify.py"), "--config", str(config), "--project", "bench", "--deployment", "prod"]
    args += ["--kind", "single", "--input", str(corpus), "--tables", str(work / "ctc-tables")]
    return local_submit(args, submit_args)


def local_submit(app: list[str], submit_args: list[str]) -> tuple[list[str], dict[str, str]]:
    """`spark-submit --master local[2]` of `app` (a script and its arguments) with the Delta jars, and its env.

    The env drops `AZURE_*`/`CTC_SPARK_*` (the run's settings are the config file's) and puts this venv first.
    """
    jars = ",".join(str(p) for p in sorted((REPO / ".jars").glob("*.jar")))
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", "local[2]", "--jars", jars, *submit_args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "CTC_SPARK_"))}
    # spark-submit finds Spark through the `python3` on PATH: make it the venv's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYSPARK_PYTHON"] = sys.executable
    return [*cmd, *app], env


def write_corpus(folder: Path, docs: int, id_prefix: str) -> None:
    """The benchmarks' corpus (10 classes, seed 202) as one parquet file of (id, text) in `folder`."""
    corpus = generate_corpus(docs, n_classes=10, seed=202, id_prefix=id_prefix)
    table = pa.table({"id": [d.id for d in corpus], "text": [d.text for d in corpus]})
    pq.write_table(table, folder / "part-0.parquet")


def _synapseml(target: dict[str, str], corpus: Path, work: Path, tuned: bool) -> list[str]:
    cmd = [str(PEERS_PY), str(HERE / "peers" / "synapseml_run.py"), "--corpus", str(corpus)]
    cmd += ["--out", str(work / f"synapseml-{tuned}"), "--endpoint", target["endpoint"], "--key", target["key"]]
    cmd += ["--jars", str(PEERS_JARS)]
    if tuned:
        cmd += ["--batch-size", "25", "--concurrency", "10", "--partitions", "2"]
    return cmd


def _sdk(target: dict[str, str], corpus: Path, work: Path) -> list[str]:
    cmd = [sys.executable, str(HERE / "peers" / "sdk_run.py"), "--corpus", str(corpus), "--out", str(work / "sdk")]
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
    rows = []
    for name in args.only:
        proc, target = launch_emulator(args.cpm, args.latency, work, name)
        try:
            env = dict(os.environ)
            if name == "ctc-spark":
                cmd, env = _ctc_spark(target, args.cpm, corpus, work, args.ctc_engine, shlex.split(args.submit_args))
            elif name.startswith("synapseml"):
                cmd = _synapseml(target, corpus, work, tuned=name.endswith("tuned"))
            else:
                cmd = _sdk(target, corpus, work)
            before = emulator_stats(target["endpoint"])
            start = time.monotonic()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            wall = time.monotonic() - start
            after = emulator_stats(target["endpoint"])
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        (work / f"{name}.log").write_text(done.stdout + done.stderr)
        if done.returncode:
            print(f"{name}: exit {done.returncode}; log in {work / (name + '.log')}", flush=True)
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
