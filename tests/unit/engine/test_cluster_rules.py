"""Pure rules for runs on a cluster: where the ledger listens, the plan table's name, the lease key."""

from __future__ import annotations

import re

import pytest

from ctc_spark.engine.lease import holder_is_gone, lease_key, process_identity
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
    name = plan_table_name("tickets", "prod", "20261130T101500Z-ab12cd34")
    assert name.startswith(PLAN_PREFIX) and re.fullmatch(r"[a-z0-9_]+", name)
    assert plan_table_name("p", "d", "my run/1") != plan_table_name("p", "d", "my run 2")


def test_plan_table_names_are_unique_per_run_and_per_deployment() -> None:
    # Lower-casing and replacing characters gave these three runs one table, and two deployments one plan.
    names = {plan_table_name("p", "d", r) for r in ("Nightly-1", "nightly_1", "nightly/1")}
    assert len(names) == 3
    assert plan_table_name("p", "prod", "r1") != plan_table_name("p", "staging", "r1")
    assert plan_table_name("a/b", "c", "r") != plan_table_name("a", "b/c", "r")


def test_leases_are_per_project_and_deployment() -> None:
    assert lease_key("tickets", "prod") != lease_key("tickets", "staging")
    assert lease_key("tickets", "prod") == lease_key("tickets", "prod") == "tickets/prod"


def test_lease_keys_are_unambiguous() -> None:
    assert lease_key("a/b", "c") != lease_key("a", "b/c")
    assert lease_key("a%2Fb", "c") != lease_key("a/b", "c")


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


def test_a_lease_whose_process_ended_on_this_machine_is_taken_at_once() -> None:
    here = "boot-1/pid:[4026531836]"
    held = f"{here}/4242/98765"
    processes = {4242: f"{here}/4242/98765"}
    assert not holder_is_gone(held, here, processes.get), "a live process keeps its lease"
    assert holder_is_gone(held, here, {}.get), "no process with that pid"
    assert holder_is_gone(held, here, {4242: f"{here}/4242/11111"}.get), "the pid was reused by a newer process"


def test_a_host_name_and_a_pid_alone_never_prove_a_holder_gone() -> None:
    # Containers that share a host name (or a kernel) have their own pid namespaces: a pid says nothing there.
    held = "boot-1/pid:[4026531836]/4242/98765"
    assert not holder_is_gone(held, "boot-1/pid:[4026532999]", {}.get), "another pid namespace"
    assert not holder_is_gone(held, "boot-2/pid:[4026531836]", {}.get), "another boot (or machine)"
    assert not holder_is_gone(None, "boot-1/pid:[4026531836]", {}.get), "an older row without a process"
    assert not holder_is_gone(held, None, {}.get), "this process cannot tell (not Linux)"


def test_process_identity_names_this_process_and_nothing_for_a_missing_pid() -> None:
    import os

    mine = process_identity(os.getpid())
    if mine is None:
        pytest.skip("no /proc here (not Linux): only the staleness rule applies")
    assert mine == process_identity(os.getpid()) and mine.split("/")[2] == str(os.getpid())
    assert process_identity(2**22 + 7) is None  # above pid_max: no such process
