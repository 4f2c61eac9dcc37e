import sys

from ctc_spark.cli import main

sys.exit(main())
