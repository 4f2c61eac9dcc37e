"""The embedded default for local work: Azurite and the emulator as detached background processes with pid files."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ctc_spark.config import ENV_ENDPOINT, ENV_KEY, ENV_STORAGE, Settings, is_loopback_url
from ctc_spark.errors import ConfigError
from ctc_spark.local.azurite import AzuriteProcess, azurite_connection_string, wait_for_port

__all__ = [
    "DEFAULT_EMULATOR_KEY",
    "EMULATOR_KEYS_ENV",
    "SERVICES",
    "LocalServices",
    "ServiceState",
    "clean_environment",
    "local_down",
    "local_status",
    "local_up",
]

DEFAULT_EMULATOR_KEY = "ctc-emulator-local-key"
# The emulator's accepted keys (comma-separated) reach its process here, never on its command line (`ps`).
EMULATOR_KEYS_ENV = "CTC_EMULATOR_KEYS"
SERVICES = ("azurite", "emulator")
# What would point a process at another Language resource or storage account than the local services.
_OVERRIDES = (ENV_ENDPOINT, ENV_KEY, ENV_STORAGE)
_OVERRIDE_PREFIX = "CTC_SPARK_"
# Substrings of each process's command line: a pid is only signalled when it still runs what we started.
_MARKERS = {"azurite": "azurite", "emulator": "ctc_spark.cli"}


@dataclass(frozen=True)
class ServiceState:
    """One background service: its pid (if running), port and whether it accepts connections."""

    name: str
    pid: int | None
    port: int
    listening: bool
    started: bool = False  # True only when this `local_up` call launched it

    @property
    def running(self) -> bool:
        return self.pid is not None


@dataclass(frozen=True)
class LocalServices:
    """Where the local services listen and the values clients need to reach them."""

    home: Path
    endpoint: str
    key: str
    storage_connection_string: str
    azurite: ServiceState
    emulator: ServiceState

    def __repr__(self) -> str:
        return f"LocalServices(home={self.home}, endpoint={self.endpoint}, key=***, storage=***)"

    def environment(self) -> dict[str, str]:
        """The AZURE_* variables that point ctc-spark and the Azure SDKs at these services."""
        return {
            ENV_ENDPOINT: self.endpoint,
            ENV_KEY: self.key,
            ENV_STORAGE: self.storage_connection_string,
        }


def clean_environment(env: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """`env` without the AZURE_* service variables and CTC_SPARK_* overrides, and the names it dropped (sorted)."""
    dropped = sorted(n for n in env if n in _OVERRIDES or n.startswith(_OVERRIDE_PREFIX))
    return {n: v for n, v in env.items() if n not in dropped}, dropped


def _home(settings: Settings) -> Path:
    return Path(settings.emulator.home).expanduser().resolve()


def _key(settings: Settings) -> str:
    # Use the configured service key when the config points at this emulator, so clients and server agree.
    em = settings.emulator
    for resource in settings.service.resources:
        if (
            resource.key
            and is_loopback_url(resource.endpoint)
            and resource.endpoint.rstrip("/").endswith(f":{em.port}")
        ):
            return resource.key.reveal()
    return DEFAULT_EMULATOR_KEY


def _describe(settings: Settings, states: dict[str, ServiceState]) -> LocalServices:
    em = settings.emulator
    return LocalServices(
        home=_home(settings),
        endpoint=f"http://{em.host}:{em.port}",
        key=_key(settings),
        storage_connection_string=azurite_connection_string(em.host, em.azurite_port),
        azurite=states["azurite"],
        emulator=states["emulator"],
    )


def _pid_file(settings: Settings, name: str) -> Path:
    return _home(settings) / "run" / f"{name}.pid"


def _live_pid(settings: Settings, name: str) -> int | None:
    """The pid in the service's pid file if that process still runs our command; stale files are removed."""
    path = _pid_file(settings, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if _is_ours(pid, _MARKERS[name]):
        return pid
    path.unlink(missing_ok=True)
    return None


def _is_ours(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True  # no /proc (macOS): trust the pid file
    if _is_zombie(pid):
        return False
    return marker in cmdline


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _port_open(host: str, port: int) -> bool:
    return wait_for_port(host, port, timeout=0.2)


def local_status(settings: Settings) -> LocalServices:
    """The current state of both services, read from their pid files and ports."""
    em = settings.emulator
    ports = {"azurite": em.azurite_port, "emulator": em.port}
    states = {
        name: ServiceState(name, _live_pid(settings, name), ports[name], _port_open(em.host, ports[name]))
        for name in SERVICES
    }
    return _describe(settings, states)


def local_up(settings: Settings, *, timeout: float = 60.0) -> LocalServices:
    """Start Azurite and the emulator in the background unless already running; returns where they listen.

    Raises:
        ConfigError: a port is taken by something else, or a service did not start (names its log file).
    """
    home = _home(settings)
    (home / "run").mkdir(parents=True, exist_ok=True)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    em = settings.emulator
    azurite_started = _live_pid(settings, "azurite") is None
    if azurite_started:
        _ensure_free(em.host, em.azurite_port, "azurite")
        with open(home / "logs" / "azurite.log", "ab") as log:
            proc = AzuriteProcess(home / "azurite", host=em.host, port=em.azurite_port)
            proc.start(log, detach=True)
            _pid_file(settings, "azurite").write_text(str(proc.pid))
    emulator_started = _live_pid(settings, "emulator") is None
    if emulator_started:
        _ensure_free(em.host, em.port, "emulator")
        _start_emulator(settings, home, timeout)
    services = local_status(settings)
    return replace(
        services,
        azurite=replace(services.azurite, started=azurite_started),
        emulator=replace(services.emulator, started=emulator_started),
    )


def _ensure_free(host: str, port: int, name: str) -> None:
    if _port_open(host, port):
        raise ConfigError(f"cannot start {name}: {host}:{port} is already in use by another process")


def _start_emulator(settings: Settings, home: Path, timeout: float) -> None:
    em = settings.emulator
    command = [
        sys.executable,
        "-m",
        "ctc_spark.cli",
        "emulator",
        "serve",
        "--host",
        em.host,
        "--port",
        str(em.port),
        "--state-dir",
        str(home / "emulator-state"),
        "--calls-per-minute",
        str(em.calls_per_minute),
        "--seed",
        str(em.seed),
    ]
    # The key and the connection string go through the environment so they never show in `ps`.
    env = {
        **clean_environment(os.environ)[0],
        ENV_STORAGE: azurite_connection_string(em.host, em.azurite_port),
        EMULATOR_KEYS_ENV: _key(settings),
    }
    log_path = home / "logs" / "emulator.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=home
        )
    _pid_file(settings, "emulator").write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _pid_file(settings, "emulator").unlink(missing_ok=True)
            raise ConfigError(f"the emulator exited with status {proc.returncode}; see {log_path}")
        if _port_open(em.host, em.port):
            return
    _stop_pid(proc.pid)
    _pid_file(settings, "emulator").unlink(missing_ok=True)
    raise ConfigError(f"the emulator did not listen on {em.host}:{em.port} within {timeout:.0f}s; see {log_path}")


def local_down(settings: Settings, only: Iterable[str] | None = None) -> list[str]:
    """Stop the emulator and Azurite (or just those in `only`) if running; returns the names of those stopped.

    Raises:
        ConfigError: `only` names something other than azurite or emulator.
    """
    names = SERVICES if only is None else tuple(only)
    unknown = sorted(set(names) - set(SERVICES))
    if unknown:
        raise ConfigError(f"unknown service {', '.join(unknown)}; known: {', '.join(SERVICES)}")
    stopped = []
    for name in reversed(SERVICES):
        if name not in names:
            continue
        pid = _live_pid(settings, name)
        if pid is not None:
            _stop_pid(pid)
            stopped.append(name)
        _pid_file(settings, name).unlink(missing_ok=True)
    return stopped


def _stop_pid(pid: int, grace: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def _alive(pid: int) -> bool:
    # Reap it if it is our own child (the emulator started in this process), then probe.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return not _is_zombie(pid)
