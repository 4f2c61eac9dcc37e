"""Databricks Connect from a laptop: `ctc-spark classify` in a virtualenv with `databricks-connect` 17.3 (DBR 17.3's
client, no `spark` extra) runs the driver engine through `DatabricksSession` against an open-source Spark Connect
server on loopback, and classifies a small corpus through the emulator.

The virtualenv lives under `.local/venv-dbconnect` (Python 3.12, as DBR 17.3). Building it takes about 20 s with
pip's cache but 4-5 minutes without, so the tests build it only when `CTC_TEST_DBCONNECT=1` is set and otherwise
skip, saying so, unless it is already there; they also skip when no Python 3.12 is found or pip cannot install
the client. The server is
pyspark 4.0.1's (this venv's) with Delta, and its Python workers run the client's interpreter: Spark Connect runs
UDFs only when client and server Python share a minor version.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctc_spark.io.session import delta_jars
from ctc_spark.local.corpus import generate_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
VENV = ROOT / ".local" / "venv-dbconnect"
CLIENT = "databricks-connect==17.3.*"
TRAIN = generate_corpus(200, n_classes=3, seed=51, id_prefix="train")


def _python312() -> str | None:
    found = shutil.which("python3.12")
    if found:
        return found
    pyenv = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python")))
    return pyenv[-1] if pyenv else None


@pytest.fixture(scope="module")
def client_python() -> str:
    """The virtualenv's interpreter: databricks-connect (and its own pyspark), httpx; ctc_spark from this tree."""
    python = VENV / "bin" / "python"
    ready = VENV / ".installed"
    if ready.is_file() and ready.read_text() == CLIENT:
        return str(python)
    if os.environ.get("CTC_TEST_DBCONNECT") != "1":
        pytest.skip(f"no {VENV.relative_to(ROOT)}: set CTC_TEST_DBCONNECT=1 to build it (pip install {CLIENT})")
    base = _python312()
    if base is None:
        pytest.skip("databricks-connect 17.3 needs Python 3.12 (DBR 17.3's); no python3.12 found")
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=120)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", CLIENT, "httpx>=0.27,<1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if pip.returncode != 0:
        pytest.skip(f"pip could not install {CLIENT}: {pip.stderr.strip().splitlines()[-1:]}")
    ready.write_text(CLIENT)
    return str(python)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def connect_server(client_python: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An open-source Spark Connect server (pyspark 4.0.1, Delta) whose Python workers use the client's Python."""
    import pyspark

    jars = delta_jars()
    if not jars:
        pytest.skip("the Delta jars are not under .jars/ (make setup)")
    home = Path(pyspark.__file__).parent
    port = _free_port()
    workdir = tmp_path_factory.mktemp("connect-server")
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "PYSPARK_PYTHON": client_python,
        "PYTHONPATH": str(ROOT),  # the workers import ctc_spark from this tree
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("SPARK_REMOTE", None)
    conf = {
        "spark.connect.grpc.binding.port": str(port),
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.warehouse.dir": str(workdir / "warehouse"),
        "spark.driver.memory": "1g",
        # databricks-connect 17.3 reads these (DBR / Spark 4.1 settings) before every createDataFrame; pyspark
        # 4.0.1 does not define them. They matter only above the 64 MB local-relation cache threshold, where the
        # client would send a chunked relation a 4.0 server cannot read; this test's frames are far smaller.
        "spark.sql.session.localRelationChunkSizeRows": "10000",
        "spark.sql.session.localRelationChunkSizeBytes": "16777216",
    }
    command = [str(home / "bin" / "spark-submit"), "--master", "local[2]", "--jars", ",".join(map(str, jars))]
    command += [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    command += ["--class", "org.apache.spark.sql.connect.service.SparkConnectServer", "spark-internal"]
    log = workdir / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while "Spark Connect server started" not in log.read_text(errors="replace"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(1)
        yield f"sc://localhost:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _client(python: str, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "CTC_SPARK_", "SPARK_", "PYSPARK_"))}
    return subprocess.run(
        [python, *argv],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


_READ_RESULTS = """
import json, sys
from databricks.connect import DatabricksSession
spark = DatabricksSession.builder.remote(sys.argv[1]).getOrCreate()
results = spark.read.format("delta").load(sys.argv[2] + "/results")
runs = spark.read.format("delta").load(sys.argv[2] + "/runs").collect()
print(json.dumps({
    "session": type(spark).__module__,
    "results": results.count(),
    "errors": results.where("error_code IS NOT NULL").count(),
    "runs": [(r.run_id, r.status, r.succeeded_docs, r.errored_docs) for r in runs],
}))
"""


def test_classify_runs_the_driver_engine_through_databricks_session(
    client_python: str, connect_server: str, make_emulator, tmp_path: Path
) -> None:
    emulator = make_emulator()
    emulator.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docs = generate_corpus(30, n_classes=3, seed=52)
    lines = [json.dumps({"id": d.id, "text": d.text}) for d in docs]
    (corpus / "part-0.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tables = tmp_path / "tables"
    argv = ["-m", "ctc_spark.cli", "classify", "--engine", "driver", "--endpoint", emulator.endpoint]
    argv += ["--project", "tickets", "--deployment", "prod", "--kind", "single", "--run-id", "dbconnect"]
    argv += ["--input", str(corpus), "--format", "json", "--tables", str(tables)]
    done = _client(client_python, argv, {"SPARK_REMOTE": connect_server, "AZURE_LANGUAGE_KEY": emulator.key})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert "using Databricks Connect (url)" in done.stderr
    assert "run dbconnect: 30 input = 0 skipped + 30 succeeded + 0 errored" in done.stdout

    read = _client(client_python, ["-c", _READ_RESULTS, connect_server, str(tables)], {})
    assert read.returncode == 0, read.stderr[-3000:]
    seen = json.loads(read.stdout.strip().splitlines()[-1])
    assert seen == {
        "session": "pyspark.sql.connect.session",
        "results": 30,
        "errors": 0,
        "runs": [["dbconnect", "succeeded", 30, 0]],
    }


def test_the_client_venv_has_no_open_source_pyspark_beside_databricks_connect(client_python: str) -> None:
    """The `databricks-connect` extra must not meet the `spark` extra's pinned pyspark in one environment."""
    listed = _client(client_python, ["-m", "pip", "list", "--format", "json"], {})
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "databricks-connect" in names
    assert not names & {"pyspark", "pyspark-connect", "pyspark-client", "delta-spark"}
