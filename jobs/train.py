"""spark-submit entry point: train a custom text classification model from labelled data.

    spark-submit --jars .jars/delta-spark_2.13-4.0.1.jar,.jars/delta-storage-4.0.1.jar \
        jobs/train.py --project P --kind single --labels labelled/ --model m1 --tables ./out/tables

Takes the same arguments as `ctc-spark train` (see --help), plus --config.
"""

from __future__ import annotations

import sys

from ctc_spark.cli.entry import run_entry_point
from ctc_spark.cli.training import add_train_arguments, run_train

if __name__ == "__main__":
    sys.exit(run_entry_point("jobs/train.py", "Train a CTC model from labelled data.", add_train_arguments, run_train))
