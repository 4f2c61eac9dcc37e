"""spark-submit entry point: maintain the engine's Delta tables (OPTIMIZE, VACUUM, old job rows, orphaned plans).

    spark-submit --jars .jars/delta-spark_2.13-4.0.1.jar,.jars/delta-storage-4.0.1.jar \
        jobs/maintain.py --tables out/tables [--retention-hours 168] [--dry-run]

Takes the same arguments as `ctc-spark maintain` (see --help), plus --config.
"""

from __future__ import annotations

import sys

from ctc_spark.cli.entry import run_entry_point
from ctc_spark.cli.maintain import add_maintain_arguments, run_maintain

if __name__ == "__main__":
    sys.exit(
        run_entry_point("jobs/maintain.py", "Maintain the engine's Delta tables.", add_maintain_arguments, run_maintain)
    )
