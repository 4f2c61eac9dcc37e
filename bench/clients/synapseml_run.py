"""SynapseML's AnalyzeTextLongRunningOperations on a parquet corpus (run with the peers venv: Spark 3.5).

    bench/.venv-peers/bin/python bench/peers/synapseml_run.py --corpus DIR --out DIR --endpoint URL --key K \
        --jars DIR [--batch-size 25 --concurrency 10 --partitions 8]

Prints one JSON line: documents in, rows with a classification, rows with an error, rows with neither.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from common import arguments, report


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--jars", required=True, help="folder with SynapseML's jars")
    parser.add_argument("--batch-size", type=int, default=0, help="0: SynapseML's default (10)")
    parser.add_argument("--concurrency", type=int, default=0, help="0: SynapseML's default (1)")
    parser.add_argument("--partitions", type=int, default=0, help="0: as read")
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    jars = ",".join(str(p) for p in sorted(Path(args.jars).glob("*.jar")))
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("peers-synapseml")
        .config("spark.jars", jars)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    from synapse.ml.services.language import AnalyzeTextLongRunningOperations

    df = spark.read.parquet(args.corpus)
    if args.partitions:
        df = df.repartition(args.partitions)
    model = (
        AnalyzeTextLongRunningOperations()
        .setSubscriptionKey(args.key)
        .setUrl(f"{args.endpoint.rstrip('/')}/language/analyze-text/jobs")
        .setTextCol("text")
        .setKind("CustomSingleLabelClassification")
        .setProjectName(args.project)
        .setDeploymentName(args.deployment)
        .setOutputCol("response")
        .setErrorCol("error")
    )
    if args.batch_size:
        model = model.setBatchSize(args.batch_size)
    if args.concurrency:
        model = model.setConcurrency(args.concurrency)
    out = model.transform(df).select(
        "id",
        F.col("response.documents.classifications").getItem(0).getField("category").alias("category"),
        F.col("error").cast("string").alias("error"),
    )
    out.write.mode("overwrite").parquet(args.out)
    report(spark, df.count(), args.out)
    spark.stop()


if __name__ == "__main__":
    main()
