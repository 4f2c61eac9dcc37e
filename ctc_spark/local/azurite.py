"""Azurite, the local Blob storage emulator: find it, start it on loopback, and build its connection string."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

from ctc_spark.errors import ConfigError

__all__ = [
    "AZURITE_ACCOUNT",
    "AzuriteProcess",
    "azurite_binary",
    "azurite_connection_string",
    "free_port",
    "wait_for_port",
]

AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published, well-known development key: it opens only the local emulator.
_AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_REPO_ROOT = Path(__file__).resolve().parents[2]


def azurite_connection_string(host: str = "127.0.0.1", port: int = 10000) -> str:
    """The connection string azure-storage-blob needs for an Azurite Blob service."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={_AZURITE_KEY};"
        f"BlobEndpoint=http://{host}:{port}/{AZURITE_ACCOUNT};"
    )


def azurite_binary(root: Path | None = None) -> Path:
    """The `azurite-blob` launcher installed by `make setup` (or found on PATH).

    Raises:
        ConfigError: Azurite is not installed.
    """
    local = (root or _REPO_ROOT) / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return local
    found = shutil.which("azurite-blob")
    if found:
        return Path(found)
    raise ConfigError(f"azurite-blob not found at {local} or on PATH; run `make setup`")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on `host`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 30.0) -> bool:
    """Wait until something accepts TCP connections on host:port; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


class AzuriteProcess:
    """One Azurite Blob service process with its data in `location`."""

    def __init__(self, location: Path, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.location = Path(location)
        self.host = host
        self.port = port or free_port(host)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.host, self.port)

    def command(self) -> list[str]:
        return [
            str(azurite_binary()),
            "--blobHost",
            self.host,
            "--blobPort",
            str(self.port),
            "--location",
            str(self.location),
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
            # The embedded default never phones home (Azurite sends Application Insights telemetry by default).
            "--disableTelemetry",
        ]

    def start(self, log: IO[bytes] | None = None, *, detach: bool = False) -> AzuriteProcess:
        """Start Azurite and wait until it listens.

        Raises:
            ConfigError: Azurite is missing or did not start listening in time.
        """
        self.location.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            self.command(),
            stdout=log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
            start_new_session=detach,
        )
        if not wait_for_port(self.host, self.port, timeout=60):
            self.stop()
            raise ConfigError(f"Azurite did not start listening on {self.host}:{self.port}")
        return self

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    def __enter__(self) -> AzuriteProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
