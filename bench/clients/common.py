"""What the peer clients share: their common arguments, and the counts they print at the end for bench/peers.py."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["arguments", "report"]


def arguments(description: str | None) -> argparse.ArgumentParser:
    """The corpus, the output folder, the emulator's endpoint and key, and the project and deployment."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--project", default="bench")
    parser.add_argument("--deployment", default="prod")
    return parser


def report(spark: Any, input_rows: int, out: str) -> None:
    """Read the client's output (id, category, error) back from `out` and print its counts."""
    from pyspark.sql import functions as F

    counts = (
        spark.read.parquet(out)
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.count("category").alias("classified"),
            F.count("error").alias("errors"),
            F.sum(F.when(F.col("category").isNull() & F.col("error").isNull(), 1).otherwise(0)).alias("neither"),
        )
        .first()
    )
    assert counts is not None  # an aggregate without grouping always has one row
    print(json.dumps({"input": input_rows, **counts.asDict()}), flush=True)
