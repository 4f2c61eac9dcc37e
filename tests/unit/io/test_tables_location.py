from __future__ import annotations

import pytest

from ctc_spark.errors import ConfigError
from ctc_spark.io.tables import TableLocation


def test_paths_and_metastore_names_are_told_apart() -> None:
    assert TableLocation.parse("/data/ctc/") == TableLocation("/data/ctc", False)
    assert TableLocation.parse("./out/tables").name("runs") == "delta.`./out/tables/runs`"
    assert TableLocation.parse("abfss://c@a.dfs.core.windows.net/ctc").path("runs").endswith("/ctc/runs")
    assert TableLocation.parse("dbfs:/ctc").name("runs") == "delta.`dbfs:/ctc/runs`"
    loc = TableLocation.parse("main.ctc")
    assert loc.is_metastore
    assert loc.name("results") == "`main`.`ctc`.`results`"
    with pytest.raises(ConfigError, match="metastore"):
        loc.path("results")


def test_empty_location_is_rejected() -> None:
    with pytest.raises(ConfigError, match="--tables"):
        TableLocation.parse("  ")


@pytest.mark.parametrize(
    "value",
    ["ctc", "main.ctc-prod", "out/tables", "a.b.c", "x` WHERE 1=1 --", "main.`ctc", "ctc.", "tables\n/x"],
)
def test_anything_neither_a_schema_nor_clearly_a_path_is_refused_in_one_line(value: str) -> None:
    with pytest.raises(ConfigError, match=r"neither a catalog\.schema .* nor a path|control character") as refused:
        TableLocation.parse(value)
    assert "\n" not in str(refused.value)
    assert repr(value.strip()) in str(refused.value), "the message names the value"


def test_backtick_quoted_schemas_are_accepted_and_stay_quoted() -> None:
    loc = TableLocation.parse("`main`.`ctc-prod`")
    assert loc.is_metastore and loc.root == "main.`ctc-prod`"
    assert loc.name("results") == "`main`.`ctc-prod`.`results`"
    assert TableLocation.parse("`my``cat`.ctc").name("t") == "`my``cat`.`ctc`.`t`"


def test_a_backtick_in_a_path_is_doubled_so_it_cannot_end_the_identifier() -> None:
    loc = TableLocation.parse("/x` WHERE 1=1 --")
    assert loc.name("leases") == "delta.`/x`` WHERE 1=1 --/leases`"
    assert loc.path("leases") == "/x` WHERE 1=1 --/leases"


def test_sql_strings_escape_quotes_and_backslashes() -> None:
    from ctc_spark.io.tables import sql_string

    assert sql_string("it's") == "'it\\'s'"
    assert sql_string("a\\' OR 1=1 --") == "'a\\\\\\' OR 1=1 --'"
