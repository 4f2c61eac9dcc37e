"""A Spark standalone cluster on 127.0.0.1 (a master and two workers from the venv's `spark-class`), shared
by the cluster tests, and the helpers to spark-submit `jobs/classify.py` to it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
_STARTUP_SECONDS = 120.0


@dataclass
class Cluster:
    """A running standalone cluster: its master URL, web UI JSON and every process it started."""

    url: str
    ui: str
    home: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.ui}/json/", timeout=10) as reply:
            state: dict[str, Any] = json.load(reply)
        return state

    def executor_pids(self, app_id: str | None = None) -> list[int]:
        """The executor JVMs (children of our workers), found by their working directory under `home`."""
        return sorted(pid for pid, _ in self._executors(app_id))

    def executor_workers(self, app_id: str | None = None) -> set[str]:
        """The workers (their work-dir names) that run an executor of the application now."""
        return {worker for _, worker in self._executors(app_id)}

    def _executors(self, app_id: str | None) -> list[tuple[int, str]]:
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cwd = os.readlink(proc / "cwd")
                cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            ours = cwd.startswith(str(self.home)) and "CoarseGrainedExecutorBackend" in cmdline
            if ours and (app_id is None or app_id in cmdline):
                found.append((int(proc.name), Path(cwd).relative_to(self.home).parts[0]))
        return found


def _log_match(path: Path, pattern: str, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + _STARTUP_SECONDS
    while time.monotonic() < deadline:
        found = re.search(pattern, path.read_text(errors="replace")) if path.exists() else None
        if found:
            return found.group(1)
        assert proc.poll() is None, f"{path.name} exited: {path.read_text(errors='replace')[-2000:]}"
        time.sleep(0.5)
    raise AssertionError(
        f"{path.name} did not start in {_STARTUP_SECONDS}s: {path.read_text(errors='replace')[-2000:]}"
    )


def _spawn(cluster: Cluster, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = cluster.home / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "spark-class"), *args], env=cluster.env, stdout=out, stderr=subprocess.STDOUT
        )
    cluster.procs.append(proc)
    return proc, log


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("standalone")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOCAL_DIRS": str(home / "local"),
        "SPARK_DAEMON_MEMORY": "256m",
    }
    env.pop("SPARK_HOME", None)
    cluster = Cluster(url="", ui="", home=home, env=env)
    try:
        master, master_log = _spawn(
            cluster,
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--webui-port",
            "0",
        )
        cluster.url = "spark://127.0.0.1:" + _log_match(
            master_log, r"Starting Spark master at spark://[^:]+:(\d+)", master
        )
        cluster.ui = _log_match(master_log, r"MasterWebUI.*started at (http://\S+)", master)
        for i in range(2):
            work = home / f"worker-{i}"
            work.mkdir()
            _spawn(
                cluster,
                f"worker-{i}",
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                "127.0.0.1",
                "--cores",
                "4",
                "--memory",
                "2g",
                "--webui-port",
                "0",
                "--work-dir",
                str(work),
                cluster.url,
            )
        deadline = time.monotonic() + _STARTUP_SECONDS
        while sum(w["state"] == "ALIVE" for w in cluster.state()["workers"]) < 2:
            assert time.monotonic() < deadline, f"workers did not register: {cluster.state()['workers']}"
            time.sleep(0.5)
        yield cluster
    finally:
        _stop(cluster)


def _stop(cluster: Cluster) -> None:
    """Stop the workers and the master, then kill any executor JVM of ours that outlived its worker."""
    for proc in reversed(cluster.procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in cluster.procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in cluster.executor_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def write_corpus(path: Path, n: int, seed: int) -> Path:
    """A Parquet corpus of `n` synthetic documents, written without a JVM."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ctc_spark.local.corpus import generate_corpus

    docs = generate_corpus(n, n_classes=5, seed=seed)
    path.mkdir(parents=True)
    pq.write_table(pa.table({"id": [d.id for d in docs], "text": [d.text for d in docs]}), path / "part-0.parquet")
    return path


def write_config(
    path: Path, endpoint: str, *, calls_per_minute: int, max_uncommitted_jobs: int = 16, tasks: int = 3
) -> Path:
    """A settings file whose `[spark] master` and `[spark.conf]` the launcher's flags must beat."""
    path.write_text(
        f'[service]\nendpoint = "{endpoint}"\ncalls_per_minute = {calls_per_minute}\n'
        f"[engine]\nmax_uncommitted_jobs = {max_uncommitted_jobs}\ntasks = {tasks}\n"
        '[spark]\nmaster = "local[2]"\napp_name = "from-config"\n'
        '[spark.conf]\n"spark.executor.memory" = "4g"\n"spark.sql.shuffle.partitions" = "4"\n'
        '"spark.log.level" = "WARN"\n'
    )
    return path


def submit(
    cluster: Cluster,
    config: Path,
    corpus: Path,
    tables: Path,
    run_id: str,
    key: str,
    log: Path,
    *extra: str,
    master: str | None = None,
) -> subprocess.Popen[bytes]:
    """spark-submit `jobs/classify.py` to the cluster (or `master`) in client mode; all output goes to `log`."""
    from ctc_spark.io.delta import delta_jars

    jars = ",".join(str(p) for p in delta_jars())
    assert jars, "the Delta jars are missing: run `make setup`"
    cmd = [
        str(BIN / "spark-submit"),
        "--master",
        master or cluster.url,
        "--name",
        f"ctc-{run_id}",
        "--jars",
        jars,
        "--conf",
        "spark.executor.memory=640m",
        "--conf",
        "spark.driver.memory=1g",
        "--conf",
        "spark.ui.enabled=true",
        "--conf",
        "spark.ui.port=0",
        "--conf",
        "spark.ui.showConsoleProgress=false",
        "--conf",
        "spark.task.maxFailures=4",
        # Start once both workers' executors are up: the run sizes its streaming stage from the slots it sees.
        "--conf",
        "spark.cores.max=4",
        "--conf",
        "spark.scheduler.minRegisteredResourcesRatio=1.0",
        "--conf",
        "spark.scheduler.maxRegisteredResourcesWaitingTime=120s",
        str(REPO / "jobs" / "classify.py"),
        "--config",
        str(config),
        "--project",
        "tickets",
        "--deployment",
        "prod",
        "--kind",
        "single",
        "--input",
        str(corpus),
        "--tables",
        str(tables),
        "--run-id",
        run_id,
        *extra,
    ]
    env = {**cluster.env, "AZURE_LANGUAGE_KEY": key}
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(REPO))
