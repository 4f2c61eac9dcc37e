"""What the benchmarks share: the emulator in its own process, its counters, spark-submit, the corpus, the machine.

Scripts in this folder import it by name (`from harness import ...`); each runs as `python bench/<script>.py`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from ctc_spark.config import Settings
from ctc_spark.engine.context import RunSummary
from ctc_spark.engine.run import run_classification
from ctc_spark.local.corpus import generate_corpus

__all__ = [
    "CLIENTS",
    "HERE",
    "REPO",
    "bench_run",
    "emulator_stats",
    "launch_emulator",
    "local_submit",
    "machine",
    "write_corpus",
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLIENTS = HERE / "clients"  # the scripts other processes run: the floor's minimal client and the peers


def launch_emulator(
    cpm: int, latency: str, ready: Path, *, timeout: float = 120.0
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Start `emulator_launcher.py` at `cpm` calls/min with `latency` (JSON); returns it and its endpoint and key.

    Raises:
        SystemExit: the launcher exited or did not write `ready` within `timeout` seconds.
    """
    cmd = [sys.executable, str(HERE / "emulator_launcher.py"), "--cpm", str(cpm), "--ready-file", str(ready)]
    proc = subprocess.Popen([*cmd, "--latency", latency])
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"the emulator launcher did not start (exit {proc.returncode})")
        time.sleep(0.2)
    time.sleep(0.1)  # the file is written before the server answers its first request
    return proc, json.loads(ready.read_text())


def bench_run(frame: Any, settings: Settings, tables: Path, run_id: str, *, quiet: bool = False) -> RunSummary:
    """Classify `frame` (id, text) with the emulator's `bench`/`prod` deployment, printing progress unless `quiet`."""
    return run_classification(
        frame,
        project="bench",
        deployment="prod",
        kind="single",
        tables=str(tables),
        settings=settings,
        run_id=run_id,
        progress=(lambda _msg: None) if quiet else (lambda msg: print(msg, flush=True)),
    )


def emulator_stats(endpoints: list[str]) -> dict[str, int]:
    """The emulators' integer counters, summed."""
    out: dict[str, int] = {}
    for endpoint in endpoints:
        for k, v in httpx.get(f"{endpoint}/emulator/stats", timeout=10).json().items():
            if isinstance(v, int):
                out[k] = out.get(k, 0) + v
    return out


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


def write_corpus(folder: Path, docs: int, id_prefix: str, *, seed: int = 202, slice_docs: int = 20_000) -> None:
    """The benchmarks' corpus (10 classes) as parquet files of (id, text) in `folder`, written a slice at a time
    so the writing process never holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, docs, slice_docs):
        prefix = id_prefix if start == 0 else f"{id_prefix}{start}-"
        part = generate_corpus(min(slice_docs, docs - start), n_classes=10, seed=seed + start, id_prefix=prefix)
        table = pa.table({"id": [d.id for d in part], "text": [d.text for d in part]})
        pq.write_table(table, folder / f"part-{start:07d}.parquet")


def machine() -> str:
    """CPUs, model, platform and Python, for the head of a results table."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if "model name" in ln), "")
    return f"{os.cpu_count()} CPUs ({model}), {platform.platform()}, Python {platform.python_version()}"
