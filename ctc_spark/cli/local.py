"""`ctc-spark local up|down|status`: run Azurite and the emulator in the background for local work."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from ctc_spark.config import load_settings
from ctc_spark.local.services import SERVICES, LocalServices, local_down, local_status, local_up

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add this module's subcommands to the `ctc-spark` parser."""
    local = subparsers.add_parser("local", help="start/stop Azurite and the emulator in the background")
    actions = local.add_subparsers(dest="local_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("up", _up, "start both services unless already running, then print the settings to use"),
        ("status", _status, "show whether the services run, then print the settings to use"),
    ):
        parser = actions.add_parser(name, help=text)
        output = parser.add_mutually_exclusive_group()
        output.add_argument("--exports", action="store_true", help="print only `export NAME=value` lines for a shell")
        output.add_argument("--print-env", action="store_true", help="print only `NAME=value` lines (a .env file)")
        parser.set_defaults(func=func)
    down = actions.add_parser("down", help="stop both services (or one, with --only)")
    down.add_argument("--only", choices=SERVICES, help="stop just this service, leaving the other running")
    down.set_defaults(func=_down)


def _up(args: argparse.Namespace) -> int:
    services = local_up(load_settings(args.config))
    _print(services, exports=args.exports, env_only=args.print_env, existing="already running")
    return 0


def _status(args: argparse.Namespace) -> int:
    services = local_status(load_settings(args.config))
    _print(services, exports=args.exports, env_only=args.print_env, existing="running")
    return 0 if services.azurite.running and services.emulator.running else 3


def _down(args: argparse.Namespace) -> int:
    stopped = local_down(load_settings(args.config), only=[args.only] if args.only else None)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def _print(services: LocalServices, *, exports: bool, env_only: bool, existing: str) -> None:
    if not (exports or env_only):
        for state in (services.azurite, services.emulator):
            if state.pid is None:
                print(f"# {state.name}: not running, port {state.port}")
                continue
            how = "started" if state.started else existing
            port = "listening" if state.listening else "NOT listening"
            print(f"# {state.name}: {how} (pid {state.pid}), port {state.port} {port}")
        print(f"# logs: {services.home / 'logs'}")
    for name, value in services.environment().items():
        print(f"export {name}={shlex.quote(value)}" if exports else f"{name}={value}")
