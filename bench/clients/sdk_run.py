"""The plain baseline: Spark `mapInPandas` + azure-ai-textanalytics 5.4.0, 25 documents a request, the SDK's poller.

    .venv/bin/python bench/peers/sdk_run.py --corpus DIR --out DIR --endpoint URL --key K [--partitions 8]

Prints one JSON line: documents in, rows with a classification, rows with an error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pandas as pd
from common import arguments, report


def _classify(
    endpoint: str, key: str, project: str, deployment: str, frames: Iterator[pd.DataFrame]
) -> Iterator[pd.DataFrame]:
    from azure.ai.textanalytics import TextAnalyticsClient
    from azure.core.credentials import AzureKeyCredential

    client = TextAnalyticsClient(endpoint, AzureKeyCredential(key))
    for frame in frames:
        rows: list[tuple[Any, str | None, str | None]] = []
        for start in range(0, len(frame), 25):
            part = frame.iloc[start : start + 25]
            try:
                poller = client.begin_single_label_classify(
                    list(part["text"]), project_name=project, deployment_name=deployment
                )
                results = list(poller.result())
            except Exception as exc:  # the baseline records failures as error rows, like a careful user would
                rows += [(i, None, f"{type(exc).__name__}: {exc}"[:200]) for i in part["id"]]
                continue
            for doc_id, res in zip(part["id"], results, strict=True):
                if res.is_error:
                    rows.append((doc_id, None, res.error.code))
                else:
                    rows.append((doc_id, res.classifications[0].category, None))
        yield pd.DataFrame(rows, columns=["id", "category", "error"])


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from functools import partial

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("peers-sdk")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(args.corpus).select(F.col("id").cast("string").alias("id"), "text")
    body = partial(_classify, args.endpoint, args.key, args.project, args.deployment)
    out = df.repartition(args.partitions).mapInPandas(body, "id string, category string, error string")
    out.write.mode("overwrite").parquet(args.out)
    report(spark, df.count(), args.out)
    spark.stop()


if __name__ == "__main__":
    main()
