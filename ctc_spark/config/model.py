"""Frozen, picklable settings: each default and each bound is written once, on these dataclass fields.

The loader (`ctc_spark.config.loader`) and the README's configuration table derive from the fields' defaults
and metadata, so a new setting is one field here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "ENGINE_CHOICES",
    "BatchSettings",
    "EmulatorSettings",
    "EngineSettings",
    "ResourceSettings",
    "Secret",
    "ServiceSettings",
    "Settings",
    "SparkSettings",
    "StorageSettings",
    "is_loopback_url",
]


def _opt(
    default: Any,
    doc: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
    env: bool = True,
) -> Any:
    """A settings field with its documentation and bounds; `env=False` means no CTC_SPARK_* override."""
    meta = {"doc": doc, "positive": positive, "nonnegative": nonnegative, "maximum": maximum, "choices": choices}
    return field(default=default, metadata={**meta, "env": env})


@dataclass(frozen=True)
class Secret:
    """A secret string; `reveal()` is the only way to read it."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """Returns:
        The secret's value: pass it to the one call that needs it, never to a log or an exception.
        """
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class ResourceSettings:
    """One Language resource: an endpoint, its key (None means Entra ID) and its quota."""

    endpoint: str = _opt("", "the resource's endpoint (or AZURE_LANGUAGE_ENDPOINT)", env=False)
    key: Secret | None = _opt(None, "loopback development services only; else AZURE_LANGUAGE_KEY", env=False)  # noqa: RUF009
    calls_per_minute: int = _opt(1000, "the resource's quota (submits and polls both count)", positive=True)
    name: str = _opt("default", "a label for logs and the runs table")
    burst_calls: int = _opt(
        0,
        "calls the resource takes at once before its per-minute pace applies; 0 paces from the first",
        nonnegative=True,
    )


@dataclass(frozen=True)
class ServiceSettings:
    """How to talk to the Language service: resources, api-versions, timeouts and retry bounds."""

    resources: tuple[ResourceSettings, ...]
    runtime_api_version: str = _opt("2023-04-01", "api-version of the analyze-text job calls")
    authoring_api_version: str = _opt("2023-04-01", "api-version of the authoring (training) calls")
    timeout_seconds: float = _opt(30.0, "HTTP timeout of one call", positive=True)
    max_attempts: int = _opt(8, "attempts of one call before a transient error is final", positive=True)
    max_retry_seconds: float = _opt(
        300.0, "longest total wait across the retries of one call; no Retry-After is honoured longer", positive=True
    )
    use_entra_id: bool = _opt(False, "bearer tokens from azure-identity instead of a key")

    @property
    def primary(self) -> ResourceSettings:
        return self.resources[0]

    @property
    def total_calls_per_minute(self) -> int:
        """The run's whole quota: every resource's `calls_per_minute`."""
        return sum(r.calls_per_minute for r in self.resources)

    @property
    def total_burst_calls(self) -> int:
        """Every resource's `burst_calls`: the calls made at once before the quota's pace applies."""
        return sum(r.burst_calls for r in self.resources)


@dataclass(frozen=True)
class StorageSettings:
    """The Blob storage linked to the Language resource (training documents live here)."""

    connection_string: Secret | None = _opt(  # noqa: RUF009 - frozen dataclass, the default is None
        None, "loopback development services only; else AZURE_STORAGE_CONNECTION_STRING", env=False
    )
    container: str = _opt("ctc-training", "the container that holds the training documents")


@dataclass(frozen=True)
class BatchSettings:
    """How documents are packed into analyze requests."""

    max_docs_per_request: int = _opt(25, "documents per analyze request", positive=True, maximum=25)
    max_chars_per_request: int = _opt(125_000, "characters per analyze request", positive=True, maximum=125_000)
    max_chars_per_document: int = _opt(
        125_000, "longer documents are refused before any call", positive=True, maximum=125_000
    )
    language: str = _opt("en", "the documents' language code")
    show_stats: bool = _opt(True, "ask the service for document and transaction counts")
    logging_opt_out: bool = _opt(True, "ask the service not to log the texts")


# Who calls the service: "auto" picks "driver" for Spark Connect sessions, "executors" for classic ones.
ENGINE_CHOICES = ("auto", "driver", "executors")


@dataclass(frozen=True)
class EngineSettings:
    """How the engine drives analyze jobs: tasks, the ledger and its crash bound."""

    engine: str = _opt("auto", "where the calls run", choices=ENGINE_CHOICES)
    tasks: int = _opt(0, "streaming tasks; 0 = one per ~50 calls/s of quota, leaving a slot free", nonnegative=True)
    ledger_host: str = _opt("", 'where executors reach the driver\'s ledger; "" = loopback locally, else the driver')
    max_uncommitted_jobs: int = _opt(
        2000, "most submitted-but-uncommitted jobs: what a crash can make you pay twice", positive=True
    )
    job_deadline_seconds: float = _opt(3600.0, "a job still running after this is recorded as expired", positive=True)
    lease_renew_seconds: float = _opt(
        60.0, "a run whose lease was not renewed for this long stops and fails (< lease_stale_seconds)", positive=True
    )
    lease_stale_seconds: float = _opt(
        120.0, "a lease not renewed for this long is taken over by another run", positive=True
    )
    retry_errors: str = _opt(
        "transient",
        "error rows a run sends again: none, transient (the service failed, not the document) or all",
        choices=("none", "transient", "all"),
    )


@dataclass(frozen=True)
class SparkSettings:
    """Where Spark runs; `conf` pairs are passed to the session builder as they are."""

    master: str = _opt("local[*]", "the Spark master unless spark-submit or spark-defaults.conf set one")
    app_name: str = _opt("ctc-spark", "the Spark application name")
    conf: tuple[tuple[str, str], ...] = field(default=(), metadata={"doc": "[spark.conf] pairs, passed as they are"})
    remote: str = _opt("", 'a Spark Connect URL (sc://host:port), or local[N] for a local Connect server; "" = classic')


@dataclass(frozen=True)
class EmulatorSettings:
    """The embedded default: where `ctc-spark local up` runs the emulator and Azurite."""

    host: str = _opt("127.0.0.1", "the emulator's and Azurite's host")
    port: int = _opt(5290, "the emulator's port", nonnegative=True, maximum=65535)
    azurite_port: int = _opt(10000, "Azurite's Blob port", nonnegative=True, maximum=65535)
    home: str = _opt(".local", "logs, pid files, emulator state and Azurite data")
    calls_per_minute: int = _opt(1000, "the emulator's quota", positive=True)
    seed: int = _opt(0, "the emulator's classifier seed")


@dataclass(frozen=True)
class Settings:
    """Everything ctc-spark needs, loaded once by `load_settings`."""

    service: ServiceSettings
    storage: StorageSettings = StorageSettings()
    batch: BatchSettings = BatchSettings()
    engine: EngineSettings = EngineSettings()
    spark: SparkSettings = SparkSettings()
    emulator: EmulatorSettings = EmulatorSettings()
    source: str = "<defaults>"

    def with_resources(self, *resources: ResourceSettings) -> Settings:
        return replace(self, service=replace(self.service, resources=tuple(resources)))


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is localhost or a loopback address."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
