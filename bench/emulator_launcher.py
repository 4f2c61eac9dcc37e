"""Serve a seeded emulator in its own process until killed: the benchmark's stand-in for the service.

    python bench/emulator_launcher.py --cpm 1000 --ready-file /tmp/ready.json

Writes {"endpoint": ..., "key": ...} to --ready-file once the deployment `bench/prod` answers.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from ctc_spark.emulator import EmulatorConfig, EmulatorServer, LatencyModel
from ctc_spark.local.corpus import generate_corpus

PROJECT, DEPLOYMENT, KEY = "bench", "prod", "bench-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cpm", type=int, required=True, help="runtime quota, calls per minute per key")
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--latency", default="{}", help="LatencyModel fields as JSON (default: the emulator's)")
    args = parser.parse_args()
    config = EmulatorConfig(
        port=0,
        keys=(KEY,),
        calls_per_minute=args.cpm,
        authoring_posts_per_minute=None,
        authoring_gets_per_minute=None,
        latency=LatencyModel(**json.loads(args.latency)),
    )
    server = EmulatorServer(config).start()
    train = generate_corpus(2000, n_classes=args.classes, seed=101, id_prefix="train")
    server.seed_deployment(
        PROJECT, DEPLOYMENT, kind="single", texts=[d.text for d in train], labels=[d.labels for d in train]
    )
    Path(args.ready_file).write_text(json.dumps({"endpoint": server.endpoint, "key": server.key}))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
