"""`ctc-spark corpus` subcommands (to be filled in by their owning issue)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add this module's subcommands to the `ctc-spark` parser."""
    del subparsers
