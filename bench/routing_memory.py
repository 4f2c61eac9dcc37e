"""The driver's memory for the run's written documents (`engine/ledger/routing.HashSet`) against a Python set.

    .venv/bin/python bench/routing_memory.py --docs 10000000

Each structure is filled in its own child process, a write's worth (1,000 ids) at a time as the sink records
them; prints the growth of the child's resident set per document and its CPU seconds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def _fill(kind: str, docs: int) -> str:
    from ctc_spark.engine.ledger.routing import HashSet

    base, cpu = _rss(), time.process_time()
    written: HashSet | set[int] = HashSet() if kind == "HashSet" else set()
    for start in range(0, docs, 1_000):
        written.update(hash(f"doc-{i:09d}") for i in range(start, min(docs, start + 1_000)))
    return f"| {kind} | {docs:,} | {(_rss() - base) / docs:.1f} | {time.process_time() - cpu:.1f} s |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000_000)
    parser.add_argument("--child", choices=("HashSet", "set"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(_fill(args.child, args.docs))
        return
    print("| structure | documents | bytes a document (RSS growth) | CPU |\n|---|---|---|---|")
    for kind in ("set", "HashSet"):
        done = subprocess.run(
            [sys.executable, __file__, "--docs", str(args.docs), "--child", kind], capture_output=True, text=True
        )
        print(done.stdout.strip() or done.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
