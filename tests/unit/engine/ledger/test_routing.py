"""Which result rows a write appends and which it MERGEs (`engine/ledger/routing.py`)."""

from __future__ import annotations

from ledger_fakes import result_row

from ctc_spark.engine.ledger.routing import ResultRouting


def _ids(rows: list) -> list[str]:
    return [r["doc_id"] for r in rows]


def test_without_the_plans_earlier_rows_every_row_is_merged() -> None:
    routing = ResultRouting(None)
    fresh, replace = routing.split([result_row("a"), result_row("b")])
    assert (fresh, _ids(replace)) == ([], ["a", "b"])
    assert not routing.appends


def test_documents_new_to_the_table_are_appended_and_those_with_a_row_merged() -> None:
    routing = ResultRouting(["old-1", "old-2"])
    fresh, replace = routing.split([result_row("new-1"), result_row("old-1"), result_row("new-2")])
    assert (_ids(fresh), _ids(replace)) == (["new-1", "new-2"], ["old-1"])


def test_a_document_reported_again_after_its_row_was_written_is_merged_not_appended_twice() -> None:
    # A zombie task attempt (or a retried one) reports a batch the run already wrote.
    routing = ResultRouting([])
    fresh, _ = routing.split([result_row("d1"), result_row("d2")])
    routing.wrote(r["doc_id"] for r in fresh)
    again, replace = routing.split([result_row("d2", category="b"), result_row("d3")])
    assert (_ids(again), _ids(replace)) == (["d3"], ["d2"])


def test_a_row_not_yet_written_stays_an_append() -> None:
    # Only rows the sink recorded as written turn later reports into MERGEs: a failed write records nothing.
    routing = ResultRouting([])
    routing.split([result_row("d1")])
    fresh, replace = routing.split([result_row("d1")])
    assert (_ids(fresh), replace) == (["d1"], [])
    assert "written=0" in repr(routing)


def test_the_written_set_finds_every_document_written_and_no_other_in_about_8_bytes_each() -> None:
    from ctc_spark.engine.ledger.routing import HashSet

    written = HashSet(buffer=10_000)  # merged into its sorted array every 10,000 additions
    ids = [f"doc-{i:07d}" for i in range(200_000)]
    for start in range(0, len(ids), 1_000):  # a write's worth at a time, as the sink records them
        written.update(hash(d) for d in ids[start : start + 1_000])
    others = [f"other-{i:07d}" for i in range(200_000)]
    assert all(written.contains([hash(d) for d in ids]))  # the merged array and the latest additions
    assert not any(written.contains([hash(d) for d in others]))
    assert len(written) == 200_000
    assert written.nbytes <= 10 * 200_000  # a Python set of the same ints takes about 60 bytes each
    for start in range(0, 20_000, 1_000):  # a zombie task reports 20,000 of them again: merged, not added twice
        written.update(hash(d) for d in ids[start : start + 1_000])
    assert len(written) == 200_000 and all(written.contains([hash(d) for d in ids[:20_000]]))
    routing = ResultRouting([])
    routing.wrote(ids)
    fresh, replace = routing.split([result_row("doc-0123456"), result_row("other-1")])
    assert (_ids(fresh), _ids(replace)) == (["other-1"], ["doc-0123456"])
