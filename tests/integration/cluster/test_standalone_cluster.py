"""spark-submit of `jobs/classify.py` to a real standalone cluster: the launcher's master wins, a lost
executor costs a task retry, and overlapping runs end cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cluster, submit, write_config, write_corpus

from ctc_spark.engine.ledger.tables import JOBS, RESULTS
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import generate_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRAIN = generate_corpus(600, n_classes=5, seed=11, id_prefix="train")
FAST_LATENCY = {"queue_seconds": 0.05, "per_document_seconds": 0.002, "spread": 0.2}
DOCS = 2000
RUN_SECONDS = 420


@pytest.fixture(scope="module")
def deployed(make_emulator):
    from ctc_spark.emulator import LatencyModel

    emulator = make_emulator(latency=LatencyModel(**FAST_LATENCY), calls_per_minute=1500, burst_seconds=1.0)
    emulator.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    return emulator


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Runs a test started: any still running when it ends (a failed assertion) are killed."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _finish(proc: subprocess.Popen[bytes], log: Path) -> str:
    try:
        proc.wait(timeout=RUN_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        tail = log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"the run did not finish in {RUN_SECONDS}s: {tail}") from None
    return log.read_text(errors="replace")


def _rows(spark, tables: Path) -> list:
    return read_table(spark, TableLocation.parse(str(tables)), RESULTS).select("doc_id", "error_code").collect()


def _batches(spark, tables: Path) -> int:
    return read_table(spark, TableLocation.parse(str(tables)), JOBS).select("batch_id").distinct().count()


def _assert_one_row_per_document(spark, tables: Path) -> None:
    rows = _rows(spark, tables)
    ids = [r.doc_id for r in rows]
    assert len(ids) == len(set(ids)) == DOCS, f"{len(ids)} rows for {len(set(ids))} of {DOCS} documents"
    assert all(r.error_code is None for r in rows)


def test_spark_submit_runs_on_the_cluster_executors(cluster: Cluster, deployed, spark, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS, seed=31)
    config = write_config(tmp_path / "settings.toml", deployed.endpoint, calls_per_minute=1500)
    tables = tmp_path / "tables"
    log = tmp_path / "run.log"
    before = deployed.stats()["submits"]
    proc = submit(cluster, config, corpus, tables, "on-cluster", deployed.key, log)
    app_ids: set[str] = set()
    workers_seen: set[str] = set()
    while proc.poll() is None:  # watch the master: the application and its executors on the workers
        state = cluster.state()
        app_ids |= {a["id"] for a in state["activeapps"] if a["name"] == "ctc-on-cluster"}
        if app_ids:
            workers_seen |= cluster.executor_workers(next(iter(app_ids)))
        time.sleep(1.0)
    out = _finish(proc, log)
    assert proc.returncode == 0, out[-3000:]
    assert app_ids, f"no application registered at the master: the run was local\n{out[-2000:]}"
    completed = [a for a in cluster.state()["completedapps"] if a["id"] in app_ids]
    assert completed, f"application {app_ids} did not complete at the master"
    # Both workers ran executors of the application (a master may replace a lost executor, so count workers).
    assert workers_seen == {"worker-0", "worker-1"}, f"workers that ran an executor: {sorted(workers_seen)}"
    assert "from-config" not in out, "the config file's app name beat spark-submit's --name"
    _assert_one_row_per_document(spark, tables)
    submits = deployed.stats()["submits"] - before
    assert submits == _batches(spark, tables), f"{submits} submits for {_batches(spark, tables)} batches"


def _app_id(cluster: Cluster, name: str, proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline:
        apps = [a["id"] for a in cluster.state()["activeapps"] if a["name"] == name]
        if apps:
            return str(apps[0])
        assert proc.poll() is None, f"the run ended before it registered: {log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.5)
    raise AssertionError(f"{name} never registered at the master")


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _streaming_executor(executors: list[int], service_port: int) -> int:
    """The executor JVM whose Python worker holds connections to the service: the one streaming."""
    ss = subprocess.run(["ss", "-tnpH", "dst", f"127.0.0.1:{service_port}"], capture_output=True, text=True)
    for pid in {int(p) for p in re.findall(r"pid=(\d+)", ss.stdout)}:
        while pid > 1:
            if pid in executors:
                return pid
            pid = _parent(pid)
    raise AssertionError(f"no executor of {executors} is talking to the service: {ss.stdout[:500]}")


def _committed_versions(tables: Path) -> int:
    """Commits to `jobs` after its creation: the ledger has made submitted job ids durable."""
    return max(0, len(list((tables / JOBS / "_delta_log").glob("*.json"))) - 1)


def test_a_lost_executor_costs_a_task_retry_not_the_run(
    cluster: Cluster, deployed, spark, tmp_path: Path, reaper
) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS, seed=32)
    # One streaming task: the executor to kill is the one running it (see the README on lost executors).
    config = write_config(
        tmp_path / "settings.toml", deployed.endpoint, calls_per_minute=1500, max_uncommitted_jobs=16, tasks=1
    )
    tables = tmp_path / "tables"
    log = tmp_path / "run.log"
    before = deployed.stats()["submits"]
    proc = submit(cluster, config, corpus, tables, "lost-executor", deployed.key, log)
    reaper.append(proc)
    app = _app_id(cluster, "ctc-lost-executor", proc, log)
    deadline = time.monotonic() + RUN_SECONDS
    while _committed_versions(tables) < 1 or deployed.stats()["submits"] - before < 20:
        assert proc.poll() is None, f"the run ended before any job was committed: {log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "no job was committed"
        time.sleep(0.2)
    executors = cluster.executor_pids(app)
    assert len(executors) == 2, f"executors of {app}: {executors}"
    victim = _streaming_executor(executors, int(deployed.endpoint.rsplit(":", 1)[1]))
    os.kill(victim, signal.SIGKILL)
    killed_at = deployed.stats()["submits"] - before
    out = _finish(proc, log)
    assert proc.returncode == 0, out[-3000:]
    _assert_one_row_per_document(spark, tables)
    submits = deployed.stats()["submits"] - before
    batches = _batches(spark, tables)
    print(
        f"\nexecutor loss: {submits} submits for {batches} batches ({submits - batches} extra; killed at {killed_at})"
    )
    # At most `max_uncommitted_jobs` submitted jobs are uncommitted at any time: only those may be paid for twice.
    assert batches <= submits <= batches + 16, f"{submits} submits for {batches} batches"


def test_overlapping_runs_end_cleanly(cluster: Cluster, deployed, spark, tmp_path: Path, reaper) -> None:
    corpus = write_corpus(tmp_path / "corpus", DOCS, seed=33)
    # 300 calls/min: the first run streams its 160 calls for about 32 s, well past the third run's start and open
    # (at 1,500 it ended in about 10 s, and once a faster first run gave its lease back before the third run
    # asked for it, which then took the free lease instead of being refused).
    config = write_config(tmp_path / "settings.toml", deployed.endpoint, calls_per_minute=300)
    tables = tmp_path / "tables"
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "waiting", "refused")}
    before = deployed.stats()["submits"]
    first = submit(cluster, config, corpus, tables, "first", deployed.key, logs["first"])
    reaper.append(first)
    deadline = time.monotonic() + RUN_SECONDS
    while deployed.stats()["submits"] - before < 10:  # the first run holds the lease and is mid-stream
        assert first.poll() is None, f"the first run ended early: {logs['first'].read_text()[-3000:]}"
        assert time.monotonic() < deadline, "the first run never submitted"
        time.sleep(0.2)
    waiting = submit(cluster, config, corpus, tables, "waiting", deployed.key, logs["waiting"], "--wait")
    # A third run on the same tables, from a local master (the cluster's cores are taken): it refuses at once.
    refused = submit(cluster, config, corpus, tables, "refused", deployed.key, logs["refused"], master="local[2]")
    reaper.extend([waiting, refused])
    out = _finish(refused, logs["refused"])
    assert refused.returncode == 1, out[-3000:]
    errors = [line for line in out.splitlines() if line.startswith("jobs/classify.py: error:")]
    assert len(errors) == 1 and "run first (started " in errors[0], errors
    assert "Traceback" not in out
    for name, proc in (("first", first), ("waiting", waiting)):
        text = _finish(proc, logs[name])
        assert proc.returncode == 0, f"{name}: {text[-3000:]}"
    assert "waiting: run first" in logs["waiting"].read_text()
    _assert_one_row_per_document(spark, tables)
    submits = deployed.stats()["submits"] - before
    assert submits <= 1.1 * _batches(spark, tables), f"{submits} submits for {_batches(spark, tables)} batches"
