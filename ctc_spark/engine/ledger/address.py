"""Where the driver's ledger service listens and the address executors are told to reach it at."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["LedgerAddress", "ledger_address"]

_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class LedgerAddress:
    """`advertised` goes into the executors' URL; `bind` is the local interface the server listens on."""

    advertised: str
    bind: str


def ledger_address(master: str, conf: Mapping[str, str], configured: str = "") -> LedgerAddress:
    """Loopback for local masters; on a cluster the configured host, else `spark.driver.host`.

    The server binds where Spark's own driver does: `spark.driver.bindAddress` when set (a container or NAT
    whose advertised name is not a local interface), else the advertised host.
    """
    if master.startswith("local"):
        host = configured or _LOOPBACK
        return LedgerAddress(host, host)
    host = configured or conf.get("spark.driver.host") or _LOOPBACK
    return LedgerAddress(host, conf.get("spark.driver.bindAddress") or host)
