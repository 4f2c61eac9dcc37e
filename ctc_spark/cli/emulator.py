"""`ctc-spark emulator serve`: run the local Language service emulator in the foreground."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ctc_spark.config import ENV_STORAGE
from ctc_spark.errors import ConfigError
from ctc_spark.local.services import DEFAULT_EMULATOR_KEY, EMULATOR_KEYS_ENV

__all__ = ["config_from_args", "register", "run_serve"]


def register(subparsers: Any) -> None:
    """Add `emulator serve`."""
    emulator = subparsers.add_parser("emulator", help="the local Language service emulator")
    sub = emulator.add_subparsers(dest="emulator_command", metavar="ACTION", required=True)
    s = sub.add_parser("serve", help="serve the emulator in the foreground (Ctrl-C stops it)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    s.add_argument("--port", type=int, default=5290, help="port (default: 5290; 0 picks a free one)")
    s.add_argument(
        "--key-file",
        help=f"a file with the accepted Ocp-Apim-Subscription-Keys, one a line (or set ${EMULATOR_KEYS_ENV}, "
        f"comma-separated; default: {DEFAULT_EMULATOR_KEY})",
    )
    s.add_argument(
        "--key", action="append", help="an accepted key (repeatable); visible to every user in `ps`: prefer --key-file"
    )
    s.add_argument("--state-dir", help="folder for projects, models, deployments and jobs (default: in memory)")
    s.add_argument(
        "--storage-connection-string", help=f"Blob account with the training documents (default: ${ENV_STORAGE})"
    )
    s.add_argument("--calls-per-minute", type=int, default=1000, help="runtime quota per key; 0 turns it off")
    s.add_argument("--authoring-posts-per-minute", type=int, default=10, help="0 turns it off")
    s.add_argument("--authoring-gets-per-minute", type=int, default=100, help="0 turns it off")
    s.add_argument("--fault-profile", default="none", help="none | flaky | key=value,... (e.g. error_500_rate=0.05)")
    s.add_argument("--latency", default="0.5,0.02", help="QUEUE_SECONDS,PER_DOCUMENT_SECONDS[,SPREAD]")
    s.add_argument("--training-seconds", type=float, default=2.0, help="minimum duration of a training job")
    s.add_argument("--result-ttl-seconds", type=float, default=86400.0, help="how long analyze results live")
    s.add_argument("--seed", type=int, default=0, help="seed for latency, faults and training splits")
    s.add_argument(
        "--training-config",
        action="append",
        metavar="VERSION=MODEL_EXPIRY[,DEPLOYMENT_EXPIRY]",
        help="list this training config version with these dates (repeatable; the last is `latest`); replaces "
        "the default of 2022-05-01 (documented dates) and emulator-current (a year from today)",
    )
    s.set_defaults(func=run_serve)


def config_from_args(args: argparse.Namespace, env: dict[str, str] | None = None) -> Any:
    """An EmulatorConfig from parsed arguments (the connection string may come from the environment)."""
    from ctc_spark.emulator import EmulatorConfig, LatencyModel, parse_fault_profile
    from ctc_spark.emulator.lifecycle import parse_training_config

    env = dict(os.environ) if env is None else env
    parts = [float(x) for x in str(args.latency).split(",")]
    latency = LatencyModel(*parts)
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        keys=_keys(args, env),
        state_dir=Path(args.state_dir) if args.state_dir else None,
        storage_connection_string=args.storage_connection_string or env.get(ENV_STORAGE),
        calls_per_minute=args.calls_per_minute or None,
        authoring_posts_per_minute=args.authoring_posts_per_minute or None,
        authoring_gets_per_minute=args.authoring_gets_per_minute or None,
        latency=latency,
        faults=parse_fault_profile(args.fault_profile),
        training_seconds=args.training_seconds,
        result_ttl_seconds=args.result_ttl_seconds,
        seed=args.seed,
        training_configs=tuple(parse_training_config(t) for t in getattr(args, "training_config", None) or ()),
    )


def _keys(args: argparse.Namespace, env: dict[str, str]) -> tuple[str, ...]:
    """--key values, then the --key-file lines, then the environment's; the default key when there are none."""
    keys = list(getattr(args, "key", None) or ())
    path = getattr(args, "key_file", None)
    if path:
        try:
            keys += [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError as exc:
            raise ValueError(f"cannot read --key-file {path}: {exc.strerror}") from None
    keys += [k.strip() for k in env.get(EMULATOR_KEYS_ENV, "").split(",") if k.strip()]
    return tuple(keys) or (DEFAULT_EMULATOR_KEY,)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from ctc_spark.emulator import serve

    try:
        config = config_from_args(args)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    print(
        f"ctc-spark emulator on http://{config.host}:{config.port} ({len(config.keys)} key(s); "
        f"quota {config.calls_per_minute or 'off'} calls/min; state {config.state_dir or 'in memory'})",
        flush=True,
    )
    serve(config)
    return 0
