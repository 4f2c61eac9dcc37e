"""Memory benchmark: peak RSS of the driver (Python and its JVM) and of one Python worker, per corpus size.

    nice .venv/bin/python bench/memory.py --docs 10000 100000
    nice .venv/bin/python bench/memory.py --docs 10000 100000 --remote 'local[2]'   # the driver engine

Each size runs in its own child process (local[2], the emulator in a third process with its quota off), so
one size's peak cannot leak into the next; the parent writes the corpus (parquet, with pyarrow) before the
child starts, so the measured process holds only what the engine holds. A sampler reads /proc every 0.2 s: the child's own VmHWM, its JVM's,
and the largest VmHWM among the JVM's Python workers. Prints one Markdown table row per size; the figures
should stay flat as the corpus grows (the driver never collects documents; a worker streams its partition).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from harness import bench_run, launch_emulator, machine, write_corpus

_FAST = json.dumps({"queue_seconds": 0.05, "per_document_seconds": 0.002, "spread": 0.2})


def _hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _sample(root: int, peaks: dict[str, float], stop: threading.Event) -> None:
    while not stop.wait(0.2):
        peaks["driver_python"] = max(peaks["driver_python"], _hwm_mb(root))
        todo = _children(root)
        while todo:
            pid = todo.pop()
            todo.extend(_children(pid))
            line = _cmdline(pid)
            if "java" in line.split(" ", 1)[0]:
                peaks["driver_jvm"] = max(peaks["driver_jvm"], _hwm_mb(pid))
            elif "pyspark.daemon" in line or "pyspark.worker" in line or "python" in line.split(" ", 1)[0]:
                peaks["python_worker"] = max(peaks["python_worker"], _hwm_mb(pid))


def _child(docs: int, work: Path, endpoint: str, key: str, remote: str, cpm: int) -> None:
    from ctc_spark.config import ResourceSettings, Secret, ServiceSettings, Settings, SparkSettings
    from ctc_spark.io.session import get_spark

    conf = (("spark.ui.enabled", "false"), ("spark.sql.shuffle.partitions", "2"), ("spark.driver.memory", "2g"))
    if remote:
        os.environ["SPARK_TESTING"] = "1"  # a local Connect server on an ephemeral port
    spark = get_spark(SparkSettings(master="local[2]", conf=conf, remote=remote))
    corpus = str(work / f"corpus-{docs}")  # written by the parent: the child holds no document list
    settings = Settings(service=ServiceSettings(resources=(ResourceSettings(endpoint, Secret(key), cpm),)))
    summary = bench_run(spark.read.parquet(corpus), settings, work / f"tables-{docs}", f"memory-{docs}", quiet=True)
    print(json.dumps({"succeeded": summary.succeeded_docs, "seconds": summary.duration_seconds}), flush=True)
    spark.stop()


def _measure(docs: int, work: Path, target: dict[str, str], remote: str, cpm: int) -> dict[str, float]:
    write_corpus(work / f"corpus-{docs}", docs, "m", seed=0)
    cmd = [sys.executable, __file__, "--child", str(docs), "--work", str(work), "--target", json.dumps(target)]
    cmd += ["--remote", remote, "--cpm", str(cpm)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peaks = {"driver_python": 0.0, "driver_jvm": 0.0, "python_worker": 0.0}
    stop = threading.Event()
    sampler = threading.Thread(target=_sample, args=(proc.pid, peaks, stop), daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"the {docs}-document run failed (exit {proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    return {**peaks, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--remote", default="", help="a Spark Connect URL or local[N]: the driver engine")
    parser.add_argument(
        "--cpm",
        type=int,
        default=6000,
        help="the resource's quota: the scheduler's window (jobs in flight, with their texts) grows with it",
    )
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if args.child:
        target = json.loads(args.target)
        _child(args.child, Path(args.work), target["endpoint"], target["key"], args.remote, args.cpm)
        return
    work = Path(tempfile.mkdtemp(prefix="ctc-memory-"))
    # Seeding the model takes minutes on a loaded machine.
    emulator, target = launch_emulator(600000, _FAST, work / "ready.json", timeout=600)
    try:
        print(f"machine: {machine()}")
        print("| documents | driver Python peak RSS | driver JVM peak RSS | largest Python worker peak RSS | run |")
        print("|---|---|---|---|---|")
        for docs in args.docs:
            m = _measure(docs, work, target, args.remote, args.cpm)
            print(
                f"| {docs:,} | {m['driver_python']:.0f} MB | {m['driver_jvm']:.0f} MB | "
                f"{m['python_worker']:.0f} MB | {m['succeeded']:,} classified in {m['seconds']:.0f} s |",
                flush=True,
            )
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)


if __name__ == "__main__":
    main()
