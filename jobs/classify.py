"""spark-submit entry point: classify a corpus into Delta tables.

    spark-submit --jars .jars/delta-spark_2.13-4.0.1.jar,.jars/delta-storage-4.0.1.jar \
        jobs/classify.py --project P --deployment D --kind single --input corpus/ --tables ./out/tables

Takes the same arguments as `ctc-spark classify` (see --help), plus --config.
"""

from __future__ import annotations

import sys

from ctc_spark.cli.classify import add_classify_arguments, run_classify
from ctc_spark.cli.entry import run_entry_point

if __name__ == "__main__":
    sys.exit(
        run_entry_point(
            "jobs/classify.py", "Classify a corpus into Delta tables.", add_classify_arguments, run_classify
        )
    )
