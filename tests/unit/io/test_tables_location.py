from __future__ import annotations

import pytest

from ctc_spark.errors import ConfigError
from ctc_spark.io.tables import TableLocation


def test_paths_and_metastore_names_are_told_apart() -> None:
    assert TableLocation.parse("/data/ctc/") == TableLocation("/data/ctc", False)
    assert TableLocation.parse("out/tables").name("runs") == "delta.`out/tables/runs`"
    loc = TableLocation.parse("main.ctc")
    assert loc.is_metastore
    assert loc.name("results") == "`main`.`ctc`.`results`"
    with pytest.raises(ConfigError, match="metastore"):
        loc.path("results")


def test_empty_location_is_rejected() -> None:
    with pytest.raises(ConfigError, match="--tables"):
        TableLocation.parse("  ")
