"""The built wheel: its metadata keeps Spark optional, and installed outside the checkout it classifies a corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import ctc_spark
from ctc_spark.engine.ledger.tables import RESULTS, RUNS
from ctc_spark.io.tables import TableLocation, read_table
from ctc_spark.local.corpus import generate_corpus

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
TRAIN = generate_corpus(300, n_classes=4, seed=31, id_prefix="train")
SPARK_PACKAGES = {"pyspark", "delta-spark"}


def _requirement_name(line: str) -> str:
    head = line.split(";", 1)[0].strip()
    for stop in "[<>=!~ (":
        head = head.split(stop, 1)[0]
    return head.strip().lower()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel` of the checkout, as `make wheel` builds it."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", str(out), str(REPO)],
        check=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def wheel_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the checkout with `<wheel>[spark]` installed (pip's cache keeps it quick)."""
    home = tmp_path_factory.mktemp("wheel-venv") / "venv"
    venv.create(home, with_pip=True)
    subprocess.run(
        [str(home / "bin" / "python"), "-m", "pip", "install", "-q", f"{wheel}[spark]"],
        check=True,
        timeout=600,
    )
    return home


def test_wheel_is_pure_python_named_by_the_one_version(wheel: Path) -> None:
    assert wheel.name == f"ctc_spark-{ctc_spark.__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "ctc_spark/py.typed" in names and "ctc_spark/cli/__init__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "conf/", "jobs/"))]


def test_wheel_metadata_keeps_spark_and_delta_in_an_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(meta_name).decode("utf-8"))
    assert meta["Version"] == ctc_spark.__version__
    requires = meta.get_all("Requires-Dist") or []
    unconditional = {_requirement_name(r) for r in requires if "extra ==" not in r}
    assert {"httpx", "pyarrow"} <= unconditional
    assert not unconditional & SPARK_PACKAGES, f"unconditional Spark requirements: {unconditional & SPARK_PACKAGES}"
    spark_extra = [r for r in requires if 'extra == "spark"' in r]
    assert {_requirement_name(r) for r in spark_extra} == SPARK_PACKAGES
    assert any(r.startswith("pyspark[connect]==4.0.1") for r in spark_extra)
    assert "spark" in (meta.get_all("Provides-Extra") or [])


def test_installed_wheel_classifies_from_an_empty_directory_with_only_azure_variables(
    wheel_venv: Path, make_emulator, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from ctc_spark.emulator import LatencyModel

    emulator = make_emulator(latency=LatencyModel(queue_seconds=0.05, per_document_seconds=0.002, spread=0.2))
    emulator.seed_deployment(
        "tickets", "prod", kind="single", texts=[d.text for d in TRAIN], labels=[d.labels for d in TRAIN]
    )
    docs = generate_corpus(60, n_classes=4, seed=32)
    corpus = tmp_path / "corpus.json"
    rows = [{"id": d.id, "text": d.text} for d in docs] + [{"id": "blank", "text": "   "}]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    workdir = tmp_path / "empty"
    workdir.mkdir()
    tables = tmp_path / "tables"
    env = {
        "PATH": f"{wheel_venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", str(tmp_path)),
        **{k: os.environ[k] for k in ("JAVA_HOME", "TMPDIR") if k in os.environ},
        "AZURE_LANGUAGE_ENDPOINT": emulator.endpoint,
        "AZURE_LANGUAGE_KEY": emulator.key,
    }
    command = [str(wheel_venv / "bin" / "ctc-spark"), "classify", "--project", "tickets", "--deployment", "prod"]
    command += ["--kind", "single", "--input", str(corpus), "--tables", str(tables), "--run-id", "from-wheel"]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert emulator.key not in output

    spark = request.getfixturevalue("spark")  # only now: run alone, the subprocess's Spark has the cores to itself
    location = TableLocation.parse(str(tables))
    results = read_table(spark, location, RESULTS).collect()
    assert sorted(r.doc_id for r in results) == sorted(r["id"] for r in rows)
    by_id = {r.doc_id: r for r in results}
    assert by_id["blank"].error_code == "EmptyDocument" and by_id["blank"].category is None
    assert all(by_id[d.id].error_code is None and by_id[d.id].category for d in docs)
    (run,) = read_table(spark, location, RUNS).collect()
    assert (run.run_id, run.status, run.input_docs, run.succeeded_docs, run.errored_docs) == (
        "from-wheel",
        "succeeded",
        61,
        60,
        1,
    )
