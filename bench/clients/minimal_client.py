"""The least a crash-safe client started by spark-submit must do, without making a single call.

    spark-submit --master local[2] --jars <delta jars> bench/floor/minimal_client.py <corpus> <tables>

A Delta session (the ledger needs one); the input's first request's worth of documents (nothing can be sent
before); one Delta commit before the first call (the run's record, so a crash cannot lose what it pays for);
one Delta commit after the last (the results). Prints the seconds each took; `bench/floor.py` times the process.
"""

from __future__ import annotations

import itertools
import json
import sys
import time


def main() -> None:
    corpus, tables = sys.argv[1], sys.argv[2]
    marks = {"python": time.time()}
    from ctc_spark.io.session import get_spark

    spark = get_spark()
    marks["session"] = time.time()
    first = spark.read.parquet(corpus).limit(25).collect()
    marks["input"] = time.time()
    spark.createDataFrame([("run", len(first))], "what string, n long").write.format("delta").save(f"{tables}/runs")
    marks["before_calls"] = time.time()
    spark.createDataFrame([("results", len(first))], "what string, n long").write.format("delta").save(
        f"{tables}/results"
    )
    marks["after_calls"] = time.time()
    steps = list(marks)
    took = {b: round(marks[b] - marks[a], 2) for a, b in itertools.pairwise(steps)}
    print("FLOOR " + json.dumps(took), flush=True)


if __name__ == "__main__":
    main()
