"""The run lease on real Delta: the first run creates the table holding its lease, a second run is refused,
a stale lease is taken over, leases of other deployments never block, and a lease taken over is lost for good:
its holder's renewals, writes and release touch nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ctc_spark.engine.lease import LEASES, RunLease
from ctc_spark.errors import ConfigError, LeaseLostError, RunInProgressError
from ctc_spark.io.tables import TableLocation, append_rows, create_table_with_rows, read_table

pytestmark = pytest.mark.integration


def _lease(spark, loc: TableLocation, run_id: str, deployment: str = "prod", **kw) -> RunLease:
    return RunLease(spark, loc, "proj", deployment, run_id, **kw)


def test_racing_creators_of_a_table_exactly_one_wins(spark, tmp_path: Path) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables"))
    barrier = threading.Barrier(3)
    won: list[bool] = []

    def create(n: int) -> None:
        rows = spark.createDataFrame([(f"racer-{n}",)], "who STRING")
        barrier.wait()
        won.append(create_table_with_rows(spark, loc, "claims", rows))

    racers = [threading.Thread(target=create, args=(n,)) for n in range(3)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert sorted(won) == [False, False, True]
    assert read_table(spark, loc, "claims").count() == 1  # the losers wrote nothing
    assert not create_table_with_rows(spark, loc, "claims", spark.createDataFrame([("late",)], "who STRING"))


def test_first_lease_creates_the_table_then_others_are_refused_until_it_is_released(spark, tmp_path: Path) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables"))
    first = _lease(spark, loc, "run-1")
    first.acquire()
    try:
        assert first.first_ever
        with pytest.raises(RunInProgressError, match=r"run run-1 .* is still classifying proj/prod") as refused:
            _lease(spark, loc, "run-2").acquire()
        assert refused.value.run_id == "run-1"
        other = _lease(spark, loc, "run-3", deployment="staging")  # another deployment: its own key
        other.acquire()
        assert not other.first_ever
        other.release()
    finally:
        first.release()
    second = _lease(spark, loc, "run-2")
    second.acquire()
    assert not second.first_ever  # the table existed: the MERGE path
    holders = {r.run_id for r in read_table(spark, loc, LEASES).collect()}
    second.release()
    assert holders == {"run-2"}
    assert read_table(spark, loc, LEASES).count() == 0


def test_a_stale_lease_is_taken_over_and_a_waiting_run_gets_it_on_release(spark, tmp_path: Path) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables"))
    silent = _lease(spark, loc, "silent", heartbeat_seconds=3600)  # alive, but never heartbeats
    silent.acquire()
    try:
        time.sleep(1.5)
        taker = _lease(spark, loc, "taker", stale_seconds=1.0, renew_seconds=0.5, heartbeat_seconds=15)
        taker.acquire()
        assert {r.run_id for r in read_table(spark, loc, LEASES).collect()} == {"taker"}
        waiting = _lease(spark, loc, "waiting", heartbeat_seconds=5)
        lines: list[str] = []
        waiter = threading.Thread(target=waiting.acquire, kwargs={"wait": True, "progress": lines.append})
        waiter.start()
        deadline = time.monotonic() + 120
        while not lines and time.monotonic() < deadline:
            time.sleep(0.2)
        assert waiter.is_alive() and any("waiting: run taker" in ln for ln in lines)
        taker.release()
        waiter.join(timeout=120)
        assert not waiter.is_alive()
        assert {r.run_id for r in read_table(spark, loc, LEASES).collect()} == {"waiting"}
        waiting.release()
    finally:
        silent.release()  # its row is gone: releasing deletes nothing of anyone else's
    assert read_table(spark, loc, LEASES).count() == 0


def test_a_lease_taken_over_is_lost_and_never_resurrected(spark, tmp_path: Path) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables"))
    # The zombie's clock is 1,000 s behind: its renewals look stale to everyone else, as a paused process's do.
    # It renews by hand here (`renew()` is what its heartbeat thread calls), so nothing depends on timing.
    zombie = _lease(spark, loc, "zombie", heartbeat_seconds=3600, clock=lambda: time.time() - 1000)
    zombie.acquire()
    first_generation = zombie.generation
    assert zombie.renew() and zombie.lost is None
    taker = _lease(spark, loc, "taker", heartbeat_seconds=3600)
    taker.acquire()
    assert taker.generation is not None and first_generation is not None and taker.generation > first_generation
    assert not zombie.renew(), "a renewal that matches nothing loses the lease: it is not just logged"
    with pytest.raises(LeaseLostError, match="run zombie stopped: another run took its lease over") as lost:
        zombie.check()
    assert (lost.value.project, lost.value.deployment, lost.value.tables) == ("proj", "prod", str(loc))
    rows = spark.createDataFrame([("doc-1",)], "doc_id STRING")
    assert zombie.fence(rows).count() == 0, "a zombie's write source is empty"
    assert taker.fence(rows).count() == 1
    taker.release()
    assert not zombie.renew(), "a renewal after the holder released must not bring the zombie's row back"
    zombie.release()
    assert read_table(spark, loc, LEASES).count() == 0


def test_a_fenced_append_by_a_zombie_inserts_nothing(spark, tmp_path: Path) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables"))
    zombie = _lease(spark, loc, "zombie", heartbeat_seconds=3600, clock=lambda: time.time() - 1000)
    zombie.acquire()
    taker = _lease(spark, loc, "taker", heartbeat_seconds=3600)
    taker.acquire()
    try:
        zombie.check()  # its own clock says it renewed just now: only the fenced write can tell
        create_table_with_rows(spark, loc, "writes", spark.createDataFrame([("seed",)], "who STRING"))
        for lease in (zombie, taker):
            append_rows(spark, loc, "writes", lease.fence(spark.createDataFrame([(lease.run_id,)], "who STRING")))
        assert sorted(r.who for r in read_table(spark, loc, "writes").collect()) == ["seed", "taker"]
    finally:
        taker.release()
        zombie.release()


def test_a_run_that_misses_its_renewal_deadline_stops_before_anyone_may_take_over(spark, tmp_path: Path) -> None:
    loc = TableLocation.parse(str(tmp_path / "tables"))
    now = [0.0]
    lease = _lease(
        spark, loc, "paused", renew_seconds=3, stale_seconds=6, heartbeat_seconds=3600, monotonic=lambda: now[0]
    )
    lease.acquire()
    try:
        now[0] = 2.9
        lease.check()
        now[0] = 3.5  # paused past the deadline: still its row, but it must not act on it any more
        with pytest.raises(LeaseLostError, match=r"not renewed for 4s \(the deadline is 3s"):
            lease.check()
        assert {r.run_id for r in read_table(spark, loc, LEASES).collect()} == {"paused"}
    finally:
        lease.release()
    with pytest.raises(ConfigError, match="must be shorter than the takeover staleness"):
        _lease(spark, loc, "odd", renew_seconds=6, stale_seconds=6)


def test_a_backtick_in_the_tables_path_cannot_reach_another_table(spark, tmp_path: Path) -> None:
    victim = TableLocation.parse(str(tmp_path))
    create_table_with_rows(spark, victim, "x", spark.createDataFrame([(i,) for i in range(5)], "n INT"))
    # Unquoted, the release's DELETE read: DELETE FROM delta.`<tmp>/x` WHERE 1=1 --/leases` WHERE ...
    hostile = TableLocation.parse(f"{tmp_path}/x` WHERE 1=1 --")
    lease = _lease(spark, hostile, "r1")
    lease.acquire()
    lease.release()
    assert read_table(spark, victim, "x").count() == 5
    assert read_table(spark, hostile, LEASES).count() == 0  # its own table, in a folder of that odd name


REPO = Path(__file__).resolve().parents[3]


def _planned(log: Path) -> bool:
    """True once the run has logged its plan (it holds its lease and is about to stream). On a local master the
    plan is a checkpoint in memory, with no table to watch for."""
    return "INFO ctc_spark.engine.run: planned run " in log.read_text(errors="replace")


def test_a_run_stopped_past_its_deadline_while_another_takes_over_pays_nothing_twice(
    spark, make_emulator, tmp_path: Path
) -> None:
    from ctc_spark.config import load_settings
    from ctc_spark.emulator import LatencyModel
    from ctc_spark.engine.ledger.tables import RESULTS
    from ctc_spark.engine.run import run_classification
    from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

    server = make_emulator(latency=LatencyModel(queue_seconds=0.05, per_document_seconds=0.002, spread=0.2))
    train = generate_corpus(300, n_classes=4, seed=31, id_prefix="train")
    server.seed_deployment(
        "fence", "prod", kind="single", texts=[d.text for d in train], labels=[d.labels for d in train]
    )
    corpus = tmp_path / "corpus"
    corpus_dataframe(spark, generate_corpus(400, n_classes=4, seed=32), kind="single").write.parquet(str(corpus))
    tables = tmp_path / "tables"
    config = tmp_path / "settings.toml"
    config.write_text(
        f'[service]\nendpoint = "{server.endpoint}"\n[spark]\nmaster = "local[2]"\n'
        '[spark.conf]\n"spark.ui.enabled" = "false"\n"spark.sql.shuffle.partitions" = "2"\n'
    )
    # Short deadlines through the environment (a Delta UPDATE of the lease took over 10 s on a loaded 2-core CI
    # machine, so not too short): renew within 40 s, taken over after 80 s.
    lease_env = {"CTC_SPARK_ENGINE_LEASE_RENEW_SECONDS": "40", "CTC_SPARK_ENGINE_LEASE_STALE_SECONDS": "80"}
    skip = {"SPARK_CONNECT_MODE_ENABLED", "SPARK_LOCAL_REMOTE", "SPARK_REMOTE", "SPARK_CONNECT_AUTHENTICATE_TOKEN"}
    env = {k: v for k, v in os.environ.items() if k not in skip} | lease_env
    env |= {"AZURE_LANGUAGE_KEY": server.key, "PYSPARK_PYTHON": sys.executable}
    cmd = [sys.executable, str(REPO / "jobs" / "classify.py"), "--config", str(config), "--project", "fence"]
    cmd += ["--deployment", "prod", "--kind", "single", "--input", str(corpus), "--tables", str(tables)]
    cmd += ["--run-id", "first"]
    log = tmp_path / "first.log"
    with log.open("w") as out:
        # Its own process group: the driver, its JVM and its Python workers are stopped together.
        first = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 900  # a hang guard: a loaded machine can take minutes to start Spark
            while not _planned(log):
                assert first.poll() is None, f"the first run ended early: {log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "the first run never logged its plan"
                time.sleep(0.02)
            os.killpg(first.pid, signal.SIGSTOP)  # planned, leased, about to stream: frozen like a paused VM
            assert server.stats()["submits"] == 0, "the first run submitted before it could be stopped"
            settings = load_settings(config, env={"AZURE_LANGUAGE_KEY": server.key, **lease_env})
            second = run_classification(
                spark.read.parquet(str(corpus)),
                project="fence",
                deployment="prod",
                kind="single",
                tables=str(tables),
                settings=settings,
                run_id="second",
                wait=True,  # until the first run's lease is stale: it cannot renew while stopped
            )
        finally:
            os.killpg(first.pid, signal.SIGCONT)
        first.wait(timeout=600)
    output = log.read_text()
    assert first.returncode == 1, f"the first run should fail once resumed: {output[-2000:]}"
    # Whichever notices first on SIGCONT: the deadline (check) or the renewal that matches nothing (heartbeat).
    assert re.search(r"error: run first stopped: (its lease was not renewed|another run took its lease over)", output)
    rows = read_table(spark, TableLocation.parse(str(tables)), RESULTS).collect()
    assert len(rows) == len({r.doc_id for r in rows}) == 400
    assert {r.run_id for r in rows} == {"second"}, "no document is written by both runs"
    assert second.succeeded_docs == 400 and second.submits >= 16
    assert server.stats()["submits"] == second.submits, "the first run paid for batches the second one sent"


def test_a_renewal_gets_a_task_slot_while_a_long_stage_holds_every_other(spark, tmp_path: Path) -> None:
    # A nightly run's planning stage once held both slots of local[2] for over a minute under load, and the
    # lease's renewals (Spark jobs of their own) queued behind its tasks (FIFO) until the run lost its lease.
    assert spark.sparkContext.getConf().get("spark.scheduler.mode") == "FAIR"  # ctc-spark's session default
    # and its pools file: the lease's pool is there before any job uses it, with a minimum share of one slot
    pool = spark.sparkContext._jsc.sc().getPoolForName("ctc-lease")
    assert pool.isDefined() and pool.get().minShare() == 1
    loc = TableLocation.parse(str(tmp_path / "tables"))
    lease = _lease(spark, loc, "busy", heartbeat_seconds=1.0)
    flag = str(tmp_path / "stage-may-end")
    # A stage that holds both slots until told to end: 300 tasks of a second each, a slot freed twice a
    # second (FAIR never preempts a running task), each task ending at once when the flag exists.
    stage = threading.Thread(
        target=lambda: (
            spark.sparkContext.parallelize(range(300), 300)
            .map(lambda x: os.path.exists(flag) or time.sleep(1.0) or x)
            .count()
        )
    )
    lease.acquire()
    try:
        stage.start()
        time.sleep(3.0)  # both slots are the stage's now
        started = time.monotonic()
        renewed = False
        while stage.is_alive() and not renewed and time.monotonic() - started < 180:
            time.sleep(0.5)
            renewed = (lease._renewed or 0.0) > started  # a renewal begun after the stage took the slots is done
        running = stage.is_alive()
    finally:
        Path(flag).touch()
        stage.join()
        lease.release()
    assert renewed and running  # renewed while the stage still had tasks to run (FIFO: only after its last)
