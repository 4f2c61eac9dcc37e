"""Read a corpus from a path in Delta, Parquet, JSON, CSV or text format, with errors that name the path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from ctc_spark.errors import InputError
from ctc_spark.io.connect import is_connect

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["FORMATS", "guess_format", "is_table_name", "read_corpus", "read_input"]

FORMATS = ("delta", "parquet", "json", "csv", "text")
_SUFFIXES = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv", ".txt": "text"}
_PART = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)"
_TABLE = re.compile(rf"^{_PART}(?:\.{_PART}){{1,2}}$")


def is_table_name(value: str) -> bool:
    """True for `catalog.schema.table` or `schema.table` (not an existing path, not a file name like `a.json`)."""
    text = value.strip()
    if not _TABLE.match(text) or Path(text).exists():
        return False
    return Path(text.replace("`", "")).suffix.lower() not in _SUFFIXES


def read_input(spark: SparkSession, value: str, fmt: str | None = None) -> DataFrame:
    """`--input`: a metastore table (`catalog.schema.table`, `schema.table`) read with `spark.table`, else a path.

    Raises:
        InputError: the table or path cannot be read.
    """
    from pyspark.errors import AnalysisException

    if fmt is None and is_table_name(value):
        try:
            df = spark.table(value.strip())
            df.schema  # noqa: B018 - Spark Connect resolves lazily: surface a missing table here
        except AnalysisException as exc:
            raise InputError(f"cannot read table {value}: {exc}", source=value) from exc
        return df
    return read_corpus(spark, value, fmt)


def guess_format(path: str) -> str:
    """The format a path most likely has: a Delta log, a known suffix, or the suffix of the files inside.

    Raises:
        InputError: the format cannot be told; pass --format.
    """
    p = Path(path)
    if (p / "_delta_log").is_dir():
        return "delta"
    if p.suffix.lower() in _SUFFIXES:
        return _SUFFIXES[p.suffix.lower()]
    if p.is_dir():
        for child in sorted(p.iterdir()):
            if child.suffix.lower() in _SUFFIXES:
                return _SUFFIXES[child.suffix.lower()]
    raise InputError(f"cannot tell the format of {path}; pass --format one of {', '.join(FORMATS)}", source=path)


def read_corpus(spark: SparkSession, path: str, fmt: str | None = None) -> DataFrame:
    """The corpus at `path`; the text format gives one document per file (`id` = file name, `text`).

    Raises:
        InputError: the path does not exist, the format is unknown, or Spark cannot read it.
    """
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    if "://" not in path and not Path(path).exists():
        raise InputError(f"input path does not exist: {path}", source=path)
    fmt = (fmt or guess_format(path)).lower()
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", source=path)
    try:
        if fmt == "text":
            df = spark.read.text(path, wholetext=True)
            # input_file_name() is gone under Spark Connect on Unity Catalog; _metadata.file_path replaces it.
            file = F.col("_metadata.file_path") if is_connect(spark) else F.input_file_name()
            name = F.regexp_extract(file, r"([^/]+?)(\.[^./]*)?$", 1)
            return df.select(name.alias("id"), F.col("value").alias("text"))
        if fmt == "csv":
            return spark.read.options(header=True, multiLine=True, escape='"').csv(path)
        return spark.read.format(fmt).load(path)
    except AnalysisException as exc:
        raise InputError(f"cannot read {path} as {fmt}: {exc}", source=path) from exc
