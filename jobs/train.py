"""spark-submit entry point: train a custom text classification model from labelled data.

    spark-submit --jars .jars/delta-spark_2.13-4.0.1.jar,.jars/delta-storage-4.0.1.jar \
        jobs/train.py --project P --kind single --labels labelled/ --model m1 --tables out/tables

Takes the same arguments as `ctc-spark train` (see --help), plus --config.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ctc_spark.commands.training import add_train_arguments, run_train
from ctc_spark.errors import CTCError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/train.py", description="Train a CTC model from labelled data.")
    parser.add_argument("--config", help="settings file (default: $CTC_SPARK_CONFIG or conf/local.toml)")
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run_train(args)
    except CTCError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
