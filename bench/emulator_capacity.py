"""How many 25-document analyze jobs per second the emulator completes with the quota off (not a test).

    .venv/bin/python bench/emulator_capacity.py [--seconds 30] [--workers 32]

The emulator runs in its own process (bench/emulator_launcher.py, quota off, zero latency); this process
drives it with httpx.AsyncClient workers, each submitting a 25-document job and polling it until it
succeeds. Prints completed jobs/s, documents/s and HTTP requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import httpx
from harness import launch_emulator

from ctc_spark.local.corpus import generate_corpus


async def _drive(endpoint: str, key: str, seconds: float, workers: int) -> dict[str, float]:
    docs = generate_corpus(25 * 40, n_classes=10, seed=7)
    bodies = [
        {
            "analysisInput": {
                "documents": [
                    {"id": str(i), "text": d.text, "language": "en"} for i, d in enumerate(docs[k * 25 : (k + 1) * 25])
                ]
            },
            "tasks": [
                {
                    "taskName": "0",
                    "kind": "CustomSingleLabelClassification",
                    "parameters": {"projectName": "bench", "deploymentName": "prod"},
                }
            ],
        }
        for k in range(40)
    ]
    counts = {"jobs": 0, "requests": 0, "errors": 0}
    headers = {"Ocp-Apim-Subscription-Key": key}
    url = f"{endpoint}/language/analyze-text/jobs?api-version=2023-04-01"
    stop = time.monotonic() + seconds

    async def worker(n: int, client: httpx.AsyncClient) -> None:
        k = n
        while time.monotonic() < stop:
            response = await client.post(url, json=bodies[k % len(bodies)], headers=headers)
            counts["requests"] += 1
            k += workers
            if response.status_code != 202:
                counts["errors"] += 1
                continue
            location = response.headers["Operation-Location"]
            while True:
                job = await client.get(location + "&$top=25", headers=headers)
                counts["requests"] += 1
                if job.json().get("status") == "succeeded":
                    counts["jobs"] += 1
                    break

    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        started = time.monotonic()
        await asyncio.gather(*(worker(n, client) for n in range(workers)))
        elapsed = time.monotonic() - started
    return {
        "seconds": round(elapsed, 1),
        "jobs_per_second": round(counts["jobs"] / elapsed, 1),
        "documents_per_second": round(25 * counts["jobs"] / elapsed, 1),
        "requests_per_second": round(counts["requests"] / elapsed, 1),
        "errors": counts["errors"],
        "equivalent_calls_per_minute": round(counts["requests"] / elapsed * 60),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        zero = json.dumps({"queue_seconds": 0.0, "per_document_seconds": 0.0, "spread": 0.0})
        proc, info = launch_emulator(0, zero, Path(tmp) / "ready.json")
        try:
            result = asyncio.run(_drive(info["endpoint"], info["key"], args.seconds, args.workers))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(json.dumps({"machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()}, **result}, indent=2))


if __name__ == "__main__":
    main()
