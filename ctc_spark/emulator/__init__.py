"""The embedded default: a local, wire-compatible emulator of Azure AI Language custom text classification."""

from __future__ import annotations

from ctc_spark.emulator.config import PROFILES, EmulatorConfig, FaultProfile, LatencyModel, parse_fault_profile
from ctc_spark.emulator.server import EmulatorServer, serve

__all__ = [
    "PROFILES",
    "EmulatorConfig",
    "EmulatorServer",
    "FaultProfile",
    "LatencyModel",
    "parse_fault_profile",
    "serve",
]
