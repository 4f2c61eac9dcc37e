"""Reading a corpus from a path in each supported format, with errors that name the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc_spark.errors import InputError
from ctc_spark.io.inputs import guess_format, read_corpus
from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("fmt", ["parquet", "json", "csv", "delta"])
def test_every_format_round_trips_ids_and_texts(spark, tmp_path: Path, fmt: str) -> None:
    docs = generate_corpus(40, seed=3)
    path = str(tmp_path / f"corpus.{fmt}")
    corpus_dataframe(spark, docs, kind="single", labelled=False).write.format(fmt).option("header", True).save(path)
    got = {r.id: r.text for r in read_corpus(spark, path, None if fmt != "delta" else "delta").collect()}
    assert got == {d.id: d.text for d in docs}


def test_a_folder_of_text_files_is_one_document_per_file(spark, tmp_path: Path) -> None:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a-1.txt").write_text("first document\nwith two lines")
    (folder / "b-2.txt").write_text("second")
    assert guess_format(str(folder)) == "text"
    got = {r.id: r.text for r in read_corpus(spark, str(folder)).collect()}
    assert got == {"a-1": "first document\nwith two lines", "b-2": "second"}


def test_missing_paths_and_unknown_formats_name_the_path(spark, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"does not exist: .*nowhere"):
        read_corpus(spark, str(tmp_path / "nowhere"))
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "x.bin").write_bytes(b"\0")
    with pytest.raises(InputError, match=r"cannot tell the format of .*odd"):
        read_corpus(spark, str(odd))
