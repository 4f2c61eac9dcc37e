"""Frozen, picklable settings and the one loader that reads them from TOML plus environment variables.

Precedence: environment variables > the TOML file > defaults. Secrets are wrapped in `Secret`, whose
`repr()` and `str()` never show the value. Library code takes these objects; only `load_settings` reads
`os.environ`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import tomllib

from ctc_spark.errors import ConfigError

__all__ = [
    "ENV_CONFIG",
    "ENV_ENDPOINT",
    "ENV_KEY",
    "ENV_STORAGE",
    "BatchSettings",
    "EmulatorSettings",
    "EngineSettings",
    "ResourceSettings",
    "Secret",
    "ServiceSettings",
    "Settings",
    "SparkSettings",
    "StorageSettings",
    "default_config_path",
    "is_loopback_url",
    "load_settings",
]

ENV_ENDPOINT = "AZURE_LANGUAGE_ENDPOINT"
ENV_KEY = "AZURE_LANGUAGE_KEY"
ENV_STORAGE = "AZURE_STORAGE_CONNECTION_STRING"
ENV_CONFIG = "CTC_SPARK_CONFIG"

_REPO_CONF = Path(__file__).resolve().parent.parent / "conf" / "local.toml"


@dataclass(frozen=True)
class Secret:
    """A secret string; `reveal()` is the only way to read it."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
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

    endpoint: str
    key: Secret | None = None
    calls_per_minute: int = 1000
    name: str = "default"


@dataclass(frozen=True)
class ServiceSettings:
    """How to talk to the Language service: resources, api-versions, timeouts and retry bounds."""

    resources: tuple[ResourceSettings, ...]
    runtime_api_version: str = "2023-04-01"
    authoring_api_version: str = "2023-04-01"
    timeout_seconds: float = 30.0
    max_attempts: int = 8
    max_retry_seconds: float = 300.0
    use_entra_id: bool = False

    @property
    def primary(self) -> ResourceSettings:
        return self.resources[0]


@dataclass(frozen=True)
class StorageSettings:
    """The Blob storage linked to the Language resource (training documents live here)."""

    connection_string: Secret | None = None
    container: str = "ctc-training"


@dataclass(frozen=True)
class BatchSettings:
    """Request packing limits and how the engine drives analyze jobs."""

    max_docs_per_request: int = 25
    max_chars_per_request: int = 125_000
    max_chars_per_document: int = 125_000
    language: str = "en"
    wave_jobs: int = 2000
    tasks: int = 0  # streaming tasks; 0 = one per ~50 calls/s of quota, leaving a slot free
    ledger_host: str = ""  # where executors reach the driver's ledger; "" = loopback locally, else the driver host
    show_stats: bool = True
    logging_opt_out: bool = True
    job_deadline_seconds: float = 3600.0


@dataclass(frozen=True)
class SparkSettings:
    """Where Spark runs; `conf` pairs are passed to the session builder as they are."""

    master: str = "local[*]"
    app_name: str = "ctc-spark"
    conf: tuple[tuple[str, str], ...] = ()
    remote: str = ""  # a Spark Connect URL (sc://host:port) or local[N] for a local Connect server; "" = classic


@dataclass(frozen=True)
class EmulatorSettings:
    """The embedded default: where `ctc-spark local up` runs the emulator and Azurite."""

    host: str = "127.0.0.1"
    port: int = 5290
    azurite_port: int = 10000
    home: str = ".local"
    calls_per_minute: int = 1000
    seed: int = 0


@dataclass(frozen=True)
class EngineSettings:
    """Which engine calls the service: "executors" (Spark tasks), "driver" (the driver process) or "auto"."""

    engine: str = "auto"  # auto: the driver engine for Spark Connect sessions, executors otherwise


@dataclass(frozen=True)
class Settings:
    """Everything ctc-spark needs, loaded once by `load_settings`."""

    service: ServiceSettings
    storage: StorageSettings = StorageSettings()
    batch: BatchSettings = BatchSettings()
    spark: SparkSettings = SparkSettings()
    emulator: EmulatorSettings = EmulatorSettings()
    source: str = "<defaults>"
    engine: EngineSettings = EngineSettings()

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


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The file named by CTC_SPARK_CONFIG, else the repository's conf/local.toml."""
    env = os.environ if env is None else env
    return Path(env[ENV_CONFIG]) if env.get(ENV_CONFIG) else _REPO_CONF


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Load settings from a TOML file, then apply the AZURE_* environment variables.

    Raises:
        ConfigError: the file is unreadable, or a value is missing or invalid; names the key and file.
    """
    env = os.environ if env is None else env
    file = Path(path) if path is not None else default_config_path(env)
    source = str(file)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config file not found", source=source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", source=source) from exc
    return _build(_Reader(raw, source), env, source)


class _Reader:
    """Typed access to one parsed TOML document, with errors that name the key and the file."""

    def __init__(self, raw: Mapping[str, Any], source: str) -> None:
        self._raw = raw
        self.source = source

    def table(self, key: str) -> _Reader:
        value = self._get(key, {})
        if not isinstance(value, Mapping):
            raise ConfigError("expected a table", key=key, source=self.source)
        return _Reader({f"{key}.{k}": v for k, v in value.items()}, self.source)

    def raw_table(self, key: str) -> Mapping[str, Any]:
        value = self._get(key, {})
        if not isinstance(value, Mapping):
            raise ConfigError("expected a table", key=key, source=self.source)
        return value

    def get(self, key: str, kind: type, default: Any) -> Any:
        value = self._get(key, default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if (value is not None and not isinstance(value, kind)) or (isinstance(value, bool) and kind is not bool):
            raise ConfigError(f"expected {kind.__name__}, got {value!r}", key=key, source=self.source)
        return value

    def positive(self, key: str, kind: type, default: Any) -> Any:
        value = self.get(key, kind, default)
        if value is None or value <= 0:
            raise ConfigError(f"must be > 0, got {value!r}", key=key, source=self.source)
        return value

    def _get(self, key: str, default: Any) -> Any:
        if key in self._raw:
            return self._raw[key]
        short = key.rsplit(".", 1)[-1]
        return self._raw.get(short, default)


def _build(root: _Reader, env: Mapping[str, str], source: str) -> Settings:
    svc = root.table("service")
    resources = _resources(root, svc, env, source)
    service = ServiceSettings(
        resources=resources,
        runtime_api_version=svc.get("service.runtime_api_version", str, "2023-04-01"),
        authoring_api_version=svc.get("service.authoring_api_version", str, "2023-04-01"),
        timeout_seconds=svc.positive("service.timeout_seconds", float, 30.0),
        max_attempts=svc.positive("service.max_attempts", int, 8),
        max_retry_seconds=svc.positive("service.max_retry_seconds", float, 300.0),
        use_entra_id=svc.get("service.use_entra_id", bool, False),
    )
    if not service.use_entra_id and any(r.key is None for r in resources):
        missing = next(r for r in resources if r.key is None)
        raise ConfigError(
            f"no key for resource '{missing.name}' ({missing.endpoint}); set {ENV_KEY} or use_entra_id = true",
            key="service.key",
            source=source,
        )
    st = root.table("storage")
    conn = env.get(ENV_STORAGE) or _file_secret(st, "storage.connection_string", _storage_host(st))
    storage = StorageSettings(
        connection_string=Secret(conn) if conn else None,
        container=st.get("storage.container", str, "ctc-training"),
    )
    b = root.table("batch")
    batch = BatchSettings(
        max_docs_per_request=_bounded(b, "batch.max_docs_per_request", 25, 25),
        max_chars_per_request=_bounded(b, "batch.max_chars_per_request", 125_000, 125_000),
        max_chars_per_document=_bounded(b, "batch.max_chars_per_document", 125_000, 125_000),
        language=b.get("batch.language", str, "en"),
        wave_jobs=b.positive("batch.wave_jobs", int, 2000),
        tasks=b.get("batch.tasks", int, 0),
        ledger_host=b.get("batch.ledger_host", str, ""),
        show_stats=b.get("batch.show_stats", bool, True),
        logging_opt_out=b.get("batch.logging_opt_out", bool, True),
        job_deadline_seconds=b.positive("batch.job_deadline_seconds", float, 3600.0),
    )
    sp = root.table("spark")
    spark = SparkSettings(
        master=sp.get("spark.master", str, "local[*]"),
        app_name=sp.get("spark.app_name", str, "ctc-spark"),
        conf=tuple(sorted((str(k), str(v)) for k, v in sp.raw_table("spark.conf").items())),
        remote=sp.get("spark.remote", str, ""),
    )
    em = root.table("emulator")
    emulator = EmulatorSettings(
        host=em.get("emulator.host", str, "127.0.0.1"),
        port=em.get("emulator.port", int, 5290),
        azurite_port=em.get("emulator.azurite_port", int, 10000),
        home=em.get("emulator.home", str, ".local"),
        calls_per_minute=em.get("emulator.calls_per_minute", int, 1000),
        seed=em.get("emulator.seed", int, 0),
    )
    engine = root.table("engine").get("engine.engine", str, "auto")
    if engine not in ("auto", "driver", "executors"):
        raise ConfigError(
            f"engine must be auto, driver or executors, not {engine!r}", key="engine.engine", source=source
        )
    return Settings(service, storage, batch, spark, emulator, source, EngineSettings(engine))


def _resources(root: _Reader, svc: _Reader, env: Mapping[str, str], source: str) -> tuple[ResourceSettings, ...]:
    listed = root.raw_table("service").get("resources")
    entries: list[ResourceSettings] = []
    if listed is not None:
        if not isinstance(listed, list) or not listed:
            raise ConfigError("expected a non-empty array of tables", key="service.resources", source=source)
        for i, item in enumerate(listed):
            item_reader = _Reader({f"service.resources[{i}].{k}": v for k, v in item.items()}, source)
            entries.append(_resource(item_reader, f"service.resources[{i}]", env, default_name=f"resource{i}"))
    else:
        entries.append(_resource(svc, "service", env, default_name="default"))
    first = entries[0]
    endpoint = env.get(ENV_ENDPOINT) or first.endpoint
    key = env.get(ENV_KEY)
    if not endpoint:
        raise ConfigError(f"no endpoint; set {ENV_ENDPOINT} or service.endpoint", key="service.endpoint", source=source)
    entries[0] = replace(first, endpoint=endpoint.rstrip("/"), key=Secret(key) if key else first.key)
    for entry in entries:
        if urlparse(entry.endpoint).scheme not in ("http", "https"):
            raise ConfigError(
                f"endpoint must be an http(s) URL, got {entry.endpoint!r}", key="service.endpoint", source=source
            )
    return tuple(entries)


def _resource(r: _Reader, prefix: str, env: Mapping[str, str], *, default_name: str) -> ResourceSettings:
    endpoint = r.get(f"{prefix}.endpoint", str, "") or ""
    key_env = r.get(f"{prefix}.key_env", str, None)
    key = env.get(key_env) if key_env else None
    if key is None:
        key = _file_secret(r, f"{prefix}.key", endpoint)
    return ResourceSettings(
        endpoint=endpoint.rstrip("/"),
        key=Secret(key) if key else None,
        calls_per_minute=r.positive(f"{prefix}.calls_per_minute", int, 1000),
        name=r.get(f"{prefix}.name", str, default_name),
    )


def _file_secret(r: _Reader, key: str, target: str) -> str | None:
    """A secret written in a committed file is only allowed for loopback development services."""
    value: str | None = r.get(key, str, None)
    if value and not is_loopback_url(target):
        raise ConfigError(
            "secrets may only be written in config files for loopback development services; "
            "use the environment variable instead",
            key=key,
            source=r.source,
        )
    return value


def _storage_host(st: _Reader) -> str:
    conn = st.get("storage.connection_string", str, "") or ""
    for part in conn.split(";"):
        if part.startswith("BlobEndpoint="):
            return part.split("=", 1)[1]
    return "http://127.0.0.1" if "UseDevelopmentStorage=true" in conn else ""


def _bounded(r: _Reader, key: str, default: int, ceiling: int) -> int:
    value: int = r.positive(key, int, default)
    if value > ceiling:
        raise ConfigError(f"must be <= {ceiling} (the service's limit), got {value}", key=key, source=r.source)
    return value
