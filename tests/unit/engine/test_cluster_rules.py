"""Pure rules for runs on a cluster: where the ledger listens, the plan table's name, the lease key."""

from __future__ import annotations

import re

from ctc_spark.engine.lease import Holder, holder_is_gone, lease_key
from ctc_spark.engine.ledger.address import LedgerAddress, ledger_address
from ctc_spark.engine.planning.frozen import PLAN_PREFIX, plan_table_name
from ctc_spark.io.tables import conflict_backoff


def test_local_masters_use_loopback_whatever_the_driver_host() -> None:
    assert ledger_address("local[2]", {"spark.driver.host": "10.1.2.3"}) == LedgerAddress("127.0.0.1", "127.0.0.1")


def test_cluster_masters_advertise_the_driver_host_and_bind_where_spark_binds() -> None:
    conf = {"spark.driver.host": "10.1.2.3"}
    assert ledger_address("spark://m:7077", conf) == LedgerAddress("10.1.2.3", "10.1.2.3")
    conf["spark.driver.bindAddress"] = "0.0.0.0"
    assert ledger_address("yarn", conf) == LedgerAddress("10.1.2.3", "0.0.0.0")


def test_the_configured_ledger_host_wins_on_any_master() -> None:
    conf = {"spark.driver.host": "10.1.2.3", "spark.driver.bindAddress": "0.0.0.0"}
    assert ledger_address("k8s://https://api:6443", conf, "driver.svc").advertised == "driver.svc"
    assert ledger_address("local[*]", {}, "192.168.1.5") == LedgerAddress("192.168.1.5", "192.168.1.5")


def test_plan_table_names_are_identifiers_and_folders() -> None:
    name = plan_table_name("20261130T101500Z-ab12cd34")
    assert name.startswith(PLAN_PREFIX) and re.fullmatch(r"[a-z0-9_]+", name)
    assert plan_table_name("my run/1") != plan_table_name("my run 2")


def test_leases_are_per_project_and_deployment() -> None:
    assert lease_key("tickets", "prod") != lease_key("tickets", "staging")
    assert lease_key("tickets", "prod") == lease_key("tickets", "prod")


def test_conflict_backoff_grows_and_is_capped() -> None:
    for attempt in range(1, 12):
        wait = conflict_backoff(attempt, base=0.25, cap=8.0)
        assert 0.0 <= wait <= min(8.0, 0.25 * 2 ** (attempt - 1))


class _JavaError(Exception):
    """Stands in for py4j's Py4JJavaError: pyspark leaves Delta's conflicts unconverted on some paths."""

    def __init__(self, java_text: str) -> None:
        super().__init__("An error occurred while calling o164.execute.")
        self.java_exception = _JavaText(java_text)


class _JavaText:
    def __init__(self, text: str) -> None:
        self.text = text

    def toString(self) -> str:
        return self.text


def test_delta_conflicts_are_recognised_converted_or_not() -> None:
    from ctc_spark.io.tables import is_conflict

    raw = _JavaError("io.delta.exceptions.ConcurrentAppendException: [DELTA_CONCURRENT_APPEND] Files were added")
    assert is_conflict(raw)
    assert not is_conflict(_JavaError("org.apache.spark.SparkException: Job aborted"))
    assert not is_conflict(ValueError("ConcurrentAppendException in a message is not enough"))
    converted = type("ConcurrentTransactionException", (Exception,), {})("x")
    assert is_conflict(converted)


def test_delta_conflicts_are_recognised_as_spark_connect_reports_them() -> None:
    from pyspark.errors import PySparkException

    from ctc_spark.io.tables import is_conflict

    assert is_conflict(PySparkException(message="[DELTA_CONCURRENT_APPEND] Files were added to the root of the table"))
    assert not is_conflict(PySparkException(message="[TABLE_OR_VIEW_NOT_FOUND] The table cannot be found"))


def test_a_lease_whose_process_ended_on_this_host_is_taken_at_once() -> None:
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    held = Holder("killed", now, now, host="node-1", pid=4242)
    assert holder_is_gone(held, "node-1", pid_alive=lambda pid: pid != 4242)
    assert not holder_is_gone(held, "node-1", pid_alive=lambda pid: True), "a live process keeps its lease"
    assert not holder_is_gone(held, "node-2", pid_alive=lambda pid: False), "another host's pid says nothing"
    assert not holder_is_gone(Holder("old", now, now), "node-1", pid_alive=lambda pid: False)
