"""The emulator's settings: listening address, keys, quotas, latency, fault injection, clock and seed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ctc_spark.emulator.lifecycle import TrainingConfigVersion

__all__ = ["PROFILES", "EmulatorConfig", "FaultProfile", "LatencyModel", "parse_fault_profile"]


@dataclass(frozen=True)
class LatencyModel:
    """Job latency = queue time + per-document time, each scaled by a seeded log-normal factor (median 1)."""

    queue_seconds: float = 0.5
    per_document_seconds: float = 0.02
    spread: float = 0.3  # sigma of the log-normal factor; 0 makes latency exact

    def seconds(self, documents: int, draw: float) -> float:
        """The latency for a job of `documents` documents, given a standard-normal `draw`."""
        import math

        return (self.queue_seconds + self.per_document_seconds * documents) * math.exp(self.spread * draw)


@dataclass(frozen=True)
class FaultProfile:
    """Seeded fault injection on the runtime API (rates are probabilities per request or per job)."""

    error_500_rate: float = 0.0
    error_503_rate: float = 0.0
    reset_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 2.0
    failed_job_rate: float = 0.0
    partial_job_rate: float = 0.0
    throttle_burst_every: int = 0  # every Nth runtime request starts a burst of 429s
    throttle_burst_length: int = 0
    fail_next_jobs: int = 0  # one-shot: the next N submitted jobs end `failed`
    reset_next_requests: int = 0  # one-shot: the next N runtime requests get their connection dropped
    refuse_documents_over: int = 0  # a submit holding a document longer than this (characters) is refused (400)
    # One-shot: the next N analyze submits create their job, then the answer is lost: `lost_submit_status`
    # (a gateway's 502 by default; 0 drops the connection mid-answer). What a client cannot tell from "not created".
    lose_next_submits: int = 0
    lost_submit_status: int = 502

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name not in ("slow_seconds", "lost_submit_status"))


PROFILES: dict[str, FaultProfile] = {
    "none": FaultProfile(),
    "flaky": FaultProfile(
        error_500_rate=0.05, reset_rate=0.01, failed_job_rate=0.01, throttle_burst_every=200, throttle_burst_length=5
    ),
}


def parse_fault_profile(text: str) -> FaultProfile:
    """A named profile (`none`, `flaky`), or `key=value` pairs separated by commas, optionally after a name.

    Raises:
        ValueError: an unknown name or field, or a value that is not a number.
    """
    parts = [p.strip() for p in text.split(",") if p.strip()]
    profile = FaultProfile()
    if parts and "=" not in parts[0]:
        name = parts.pop(0)
        if name not in PROFILES:
            raise ValueError(f"unknown fault profile {name!r}; known: {', '.join(PROFILES)}")
        profile = PROFILES[name]
    kinds = {f.name: f.type for f in fields(FaultProfile)}
    changes: dict[str, float | int] = {}
    for part in parts:
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in kinds:
            raise ValueError(f"unknown fault field {key!r}; known: {', '.join(kinds)}")
        try:
            changes[key] = int(value) if kinds[key] == "int" else float(value)
        except ValueError:
            raise ValueError(f"fault field {key} needs a number, got {value!r}") from None
    return replace(profile, **changes)  # type: ignore[arg-type]  # each value converted to its field's int or float above


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator needs; the defaults match the S tier's limits."""

    host: str = "127.0.0.1"
    port: int = 5290
    keys: tuple[str, ...] = ("ctc-emulator-local-key",)
    state_dir: Path | None = None
    storage_connection_string: str | None = field(default=None, repr=False)
    calls_per_minute: int | None = 1000
    burst_seconds: float = 10.0
    authoring_posts_per_minute: int | None = 10
    authoring_gets_per_minute: int | None = 100
    result_ttl_seconds: float = 86400.0
    latency: LatencyModel = LatencyModel()
    faults: FaultProfile = FaultProfile()
    training_seconds: float = 2.0
    # Replaces the default (documented 2022-05-01 + a current version expiring a year from now); last is latest.
    training_configs: tuple[TrainingConfigVersion, ...] = ()
    seed: int = 0
    clock: Callable[[], float] = time.time

    def __repr__(self) -> str:
        # Keys are secrets too: show how many there are, never what they are.
        return (
            f"EmulatorConfig(host={self.host!r}, port={self.port}, keys=<{len(self.keys)} hidden>, "
            f"state_dir={self.state_dir!r}, calls_per_minute={self.calls_per_minute}, seed={self.seed})"
        )
