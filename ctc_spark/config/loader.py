"""The one loader: built-in defaults < the TOML file < `CTC_SPARK_*` and `AZURE_*` variables.

Unknown sections and keys are refused with the closest valid key. Only this module reads `os.environ`.
"""

from __future__ import annotations

import os
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ctc_spark.config.endpoints import check_endpoint
from ctc_spark.config.model import (
    BatchSettings,
    EmulatorSettings,
    EngineSettings,
    ResourceSettings,
    Secret,
    ServiceSettings,
    Settings,
    SparkSettings,
    StorageSettings,
    is_loopback_url,
)
from ctc_spark.config.schema import ENV_PREFIX, RESOURCE_OPTIONS, SECTIONS, Option, closest, options, section_keys
from ctc_spark.config.secrets import SecretResolver, databricks_secret, resolve_secret_name
from ctc_spark.errors import ConfigError

__all__ = [
    "BUILTIN",
    "ENV_CONFIG",
    "ENV_ENDPOINT",
    "ENV_KEY",
    "ENV_KEY_SECRET",
    "ENV_STORAGE",
    "ENV_STORAGE_SECRET",
    "default_config_path",
    "load_settings",
]

ENV_ENDPOINT = "AZURE_LANGUAGE_ENDPOINT"
ENV_KEY = "AZURE_LANGUAGE_KEY"
ENV_KEY_SECRET = "AZURE_LANGUAGE_KEY_SECRET"
ENV_STORAGE = "AZURE_STORAGE_CONNECTION_STRING"
ENV_STORAGE_SECRET = "AZURE_STORAGE_CONNECTION_STRING_SECRET"
ENV_CONFIG = "CTC_SPARK_CONFIG"
BUILTIN = "<built-in defaults>"
_ENV = "the environment"
_DEPRECATED = {("batch", "wave_jobs"): ("engine", "max_uncommitted_jobs")}

_REPO_CONF = Path(__file__).resolve().parents[2] / "conf" / "local.toml"

_Overrides = dict[tuple[str, str], Any]


def default_config_path(env: Mapping[str, str] | None = None) -> Path | None:
    """The file named by CTC_SPARK_CONFIG, else the checkout's conf/local.toml, else None (built-in defaults)."""
    env = os.environ if env is None else env
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    return _REPO_CONF if _REPO_CONF.is_file() else None


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    secret_resolver: SecretResolver | None = None,
) -> Settings:
    """Load settings: built-in defaults, then the TOML file, then the environment.

    Args:
        path: the TOML file; default `$CTC_SPARK_CONFIG`, else the checkout's `conf/local.toml`, else none.
        env: the variables to read (default `os.environ`): `AZURE_*` and `CTC_SPARK_<SECTION>_<KEY>`.
        secret_resolver: reads a named secret `(scope, key)`; default Databricks' `dbutils.secrets.get`.

    Returns:
        Frozen, picklable `Settings`.

    Raises:
        ConfigError: the file is unreadable; a key, section or value is unknown, missing or invalid (names the
            key or variable, the file and the closest valid key); a named secret cannot be read.
    """
    env = os.environ if env is None else env
    file = Path(path) if path is not None else default_config_path(env)
    source = str(file) if file is not None else BUILTIN
    raw = _read(file) if file is not None else {}
    ctx = _Context(_checked(raw, source), source, env, _overrides(env), secret_resolver or databricks_secret)
    service = ctx.service()
    connection = ctx.storage_secret()
    return Settings(
        service=service,
        storage=StorageSettings(connection_string=connection, **ctx.values("storage", exclude={"connection_string"})),
        batch=BatchSettings(**ctx.values("batch")),
        engine=EngineSettings(**ctx.values("engine")),
        spark=SparkSettings(conf=ctx.spark_conf(), **ctx.values("spark")),
        emulator=EmulatorSettings(**ctx.values("emulator")),
        source=source,
    )


def _read(file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config file not found", source=str(file)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", source=str(file)) from exc


def _checked(raw: Mapping[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """The file's tables, with unknown sections and keys refused and deprecated keys moved."""
    tables: dict[str, dict[str, Any]] = {}
    for section, table in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"unknown section [{section}]{closest(section, SECTIONS)}", key=section, source=source)
        if not isinstance(table, Mapping):
            raise ConfigError("expected a table", key=section, source=source)
        tables[section] = dict(table)
    for (old_section, old_key), (section, key) in _DEPRECATED.items():
        if old_key in tables.get(old_section, {}):
            if key in tables.get(section, {}):
                raise ConfigError(f"set [{section}] {key} only", key=f"{old_section}.{old_key}", source=source)
            warnings.warn(
                f"{source}: [{old_section}] {old_key} is deprecated; use [{section}] {key}", FutureWarning, stacklevel=3
            )
            tables.setdefault(section, {})[key] = tables[old_section].pop(old_key)
    for section, table in tables.items():
        _refuse_unknown(table, section_keys(section), section, source)
    return tables


def _refuse_unknown(table: Mapping[str, Any], valid: tuple[str, ...], where: str, source: str) -> None:
    for key in table:
        if key not in valid:
            raise ConfigError(
                f"unknown key {key!r} in [{where}]{closest(key, valid)}", key=f"{where}.{key}", source=source
            )


def _overrides(env: Mapping[str, str]) -> _Overrides:
    """The `CTC_SPARK_<SECTION>_<KEY>` variables, parsed; an unknown one is warned about with the closest name."""
    by_var = {o.env_var: o for o in options() if o.env_var}
    found: _Overrides = {}
    for var, text in env.items():
        if not var.startswith(ENV_PREFIX) or var == ENV_CONFIG:
            continue
        option = by_var.get(var)
        if option is None:
            warnings.warn(f"{var} is not a ctc-spark setting{closest(var, by_var)}", UserWarning, stacklevel=3)
            continue
        found[(option.section, option.key)] = option.parse(text, var=var)
    return found


class _Context:
    """One load: the checked file tables, the environment and the secret resolver."""

    def __init__(
        self,
        tables: dict[str, dict[str, Any]],
        source: str,
        env: Mapping[str, str],
        overrides: _Overrides,
        resolver: SecretResolver,
    ) -> None:
        self.tables, self.source, self.env, self.overrides, self.resolver = tables, source, env, overrides, resolver

    def value(self, option: Option, table: Mapping[str, Any], where: str, *, override: bool = True) -> Any:
        if override and (option.section, option.key) in self.overrides:
            return self.overrides[(option.section, option.key)]
        if option.key in table:
            return option.check(table[option.key], key=f"{where}.{option.key}", source=self.source)
        return option.default

    def values(self, section: str, *, exclude: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
        table = self.tables.get(section, {})
        return {
            o.key: self.value(o, table, section)
            for o in options(section)
            if not o.secret and o.default is not None and o.key not in exclude
        }

    def service(self) -> ServiceSettings:
        table = self.tables.get("service", {})
        listed = table.get("resources")
        first = "service" if listed is None else "service.resources[0]"
        if listed is None:
            resources = [self.resource(table, "service", "default")]
        else:
            if not isinstance(listed, list) or not listed or not all(isinstance(t, Mapping) for t in listed):
                raise ConfigError("expected a non-empty array of tables", key="service.resources", source=self.source)
            stray = [o.key for o in RESOURCE_OPTIONS if o.key in table]
            if stray:
                raise ConfigError(
                    "set it on each [[service.resources]] entry instead", key=f"service.{stray[0]}", source=self.source
                )
            resources = [self.resource(t, f"service.resources[{i}]", f"resource{i}") for i, t in enumerate(listed)]
        resources[0] = self.primary_from_env(resources[0], first)
        for i, r in enumerate(resources[1:], start=1):
            check_endpoint(r.endpoint, resource=r.name, key=f"service.resources[{i}].endpoint", source=self.source)
        scalars = {o.key: self.value(o, table, "service") for o in options("service") if o not in RESOURCE_OPTIONS}
        service = ServiceSettings(resources=tuple(resources), **scalars)
        missing = next((r for r in service.resources if r.key is None), None)
        if not service.use_entra_id and missing is not None:
            raise ConfigError(
                f"no key for resource '{missing.name}' ({missing.endpoint}); set {ENV_KEY}, {ENV_KEY_SECRET} "
                "or use_entra_id = true",
                key="service.key",
                source=self.source,
            )
        return service

    def resource(self, table: Mapping[str, Any], where: str, default_name: str) -> ResourceSettings:
        if where != "service":
            _refuse_unknown(table, tuple(o.key for o in RESOURCE_OPTIONS), where, self.source)
        get = {o.key: o for o in RESOURCE_OPTIONS}
        endpoint = str(self.value(get["endpoint"], table, where)).rstrip("/")
        named = [k for k in ("key", "key_env", "key_secret") if k in table]
        if len(named) > 1:
            raise ConfigError(f"set only one of {', '.join(named)}", key=f"{where}.{named[0]}", source=self.source)
        key: Secret | None = None
        if "key_env" in table:
            var = self.value(get["key_env"], table, where)
            key = Secret(self.env[var]) if self.env.get(var) else None
        elif "key_secret" in table:
            name = self.value(get["key_secret"], table, where)
            key = resolve_secret_name(name, resolver=self.resolver, key=f"{where}.key_secret", source=self.source)
        elif "key" in table:
            key = self.file_secret(get["key"], table, where, endpoint)
        return ResourceSettings(
            endpoint=endpoint,
            key=key,
            calls_per_minute=self.value(get["calls_per_minute"], table, where, override=False),
            name=self.value(get["name"], table, where, override=False) if "name" in table else default_name,
            burst_calls=self.value(get["burst_calls"], table, where, override=False),
        )

    def primary_from_env(self, first: ResourceSettings, where: str) -> ResourceSettings:
        endpoint = (self.env.get(ENV_ENDPOINT) or first.endpoint).rstrip("/")
        if not endpoint:
            raise ConfigError(
                f"no endpoint; set {ENV_ENDPOINT} or service.endpoint", key="service.endpoint", source=self.source
            )
        named, source = (ENV_ENDPOINT, _ENV) if self.env.get(ENV_ENDPOINT) else (f"{where}.endpoint", self.source)
        endpoint = check_endpoint(endpoint, resource=first.name, key=named, source=source)
        key = self.env_secret(ENV_KEY, ENV_KEY_SECRET) or first.key
        changed = {
            o.key: self.overrides[("service", o.key)] for o in RESOURCE_OPTIONS if ("service", o.key) in self.overrides
        }
        return replace(first, endpoint=endpoint, key=key, **changed)

    def storage_secret(self) -> Secret | None:
        table = self.tables.get("storage", {})
        from_env = self.env_secret(ENV_STORAGE, ENV_STORAGE_SECRET)
        if from_env is not None:
            return from_env
        if "connection_string" in table and "connection_string_secret" in table:
            raise ConfigError(
                "set only one of connection_string, connection_string_secret",
                key="storage.connection_string",
                source=self.source,
            )
        named = {o.key: o for o in options("storage")}
        if "connection_string_secret" in table:
            name = self.value(named["connection_string_secret"], table, "storage")
            return resolve_secret_name(
                name, resolver=self.resolver, key="storage.connection_string_secret", source=self.source
            )
        if "connection_string" in table:
            conn = named["connection_string"].check(
                table["connection_string"], key="storage.connection_string", source=self.source
            )
            return self.file_secret(named["connection_string"], table, "storage", _storage_host(conn))
        return None

    def env_secret(self, var: str, secret_var: str) -> Secret | None:
        if self.env.get(var) and self.env.get(secret_var):
            raise ConfigError(f"set {var} or {secret_var}, not both", key=secret_var, source=_ENV)
        if self.env.get(secret_var):
            return resolve_secret_name(self.env[secret_var], resolver=self.resolver, key=secret_var, source=_ENV)
        return Secret(self.env[var]) if self.env.get(var) else None

    def file_secret(self, option: Option, table: Mapping[str, Any], where: str, target: str) -> Secret | None:
        """A secret written in a committed file is only allowed for loopback development services."""
        value = option.check(table[option.key], key=f"{where}.{option.key}", source=self.source)
        if value and not is_loopback_url(target):
            raise ConfigError(
                "secrets may only be written in config files for loopback development services; "
                "use the environment variable or a secret name instead",
                key=f"{where}.{option.key}",
                source=self.source,
            )
        return Secret(value) if value else None

    def spark_conf(self) -> tuple[tuple[str, str], ...]:
        conf = self.tables.get("spark", {}).get("conf", {})
        if not isinstance(conf, Mapping):
            raise ConfigError("expected a table", key="spark.conf", source=self.source)
        return tuple(sorted((str(k), str(v)) for k, v in conf.items()))


def _storage_host(conn: str) -> str:
    for part in conn.split(";"):
        if part.startswith("BlobEndpoint="):
            return part.split("=", 1)[1]
    return "http://127.0.0.1" if "UseDevelopmentStorage=true" in conn else ""
