"""`spark-submit jobs/classify.py` without the Delta jars ends in one line naming them, not a Java stack.

Under spark-submit the JVM is running before the session factory builds its session, so the `spark.jars` it
sets never reach the driver's class loader: without `--jars` Spark used to log a ClassNotFoundException for
DeltaSparkSessionExtension and the job failed later. The session factory now checks first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctc_spark.io.delta import DELTA_VERSION, delta_jars
from ctc_spark.local.services import clean_environment

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
HINT = (
    f"jobs/classify.py: error: Delta Lake is not on the driver's classpath: pass --jars "
    f".jars/delta-spark_2.13-{DELTA_VERSION}.jar,.jars/delta-storage-{DELTA_VERSION}.jar"
)


def _submit(tmp_path: Path, *spark_args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    env = {
        **clean_environment(os.environ)[0],
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    job = [
        str(ROOT / "jobs" / "classify.py"),
        *("--config", str(ROOT / "conf" / "local.toml"), "--project", "p", "--deployment", "d", "--kind", "single"),
        *("--input", str(tmp_path / "no-such-corpus"), "--tables", str(tmp_path / "tables")),
    ]
    command = [str(bin_dir / "spark-submit"), "--master", "local[1]", "--conf", "spark.ui.enabled=false"]
    return subprocess.run(
        [*command, *spark_args, *job], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )


def test_spark_submit_without_the_delta_jars_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    done = _submit(tmp_path)

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    hints = [line for line in output.splitlines() if "Delta Lake is not on the driver's classpath" in line]
    assert len(hints) == 1 and hints[0].startswith(HINT), output
    assert f"--packages io.delta:delta-spark_2.13:{DELTA_VERSION}" in hints[0]
    assert "ClassNotFoundException" not in output and "\tat " not in output and "Traceback" not in output


def test_with_the_jars_the_check_passes_and_the_job_reaches_its_own_checks(tmp_path: Path) -> None:
    jars = delta_jars()
    assert jars, "the Delta jars are missing under .jars/: run `make setup`"
    done = _submit(tmp_path, "--jars", ",".join(str(p) for p in jars))

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"input path does not exist: {tmp_path / 'no-such-corpus'}" in output
    assert "Delta Lake is not on the driver's classpath" not in output and "ClassNotFoundException" not in output
