"""spark-submit entry point: classify a corpus into Delta tables.

    spark-submit --jars .jars/delta-spark_2.13-4.0.1.jar,.jars/delta-storage-4.0.1.jar \
        jobs/classify.py --project P --deployment D --kind single --input corpus/ --tables out/tables

Takes the same arguments as `ctc-spark classify` (see --help), plus --config.
"""

from __future__ import annotations

import argparse
import logging
import sys

from ctc_spark.commands.classify import add_classify_arguments, run_classify
from ctc_spark.errors import CTCError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jobs/classify.py", description="Classify a corpus into Delta tables.")
    parser.add_argument("--config", help="settings file (default: $CTC_SPARK_CONFIG or conf/local.toml)")
    add_classify_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run_classify(args)
    except CTCError as exc:
        print(f"classify: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
