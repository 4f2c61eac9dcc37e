"""Packing into requests: limits hold, order is kept, batch ids are stable; pre-validation codes."""

from __future__ import annotations

import pytest

from ctc_spark.config import ResourceSettings
from ctc_spark.engine.planning.inputs import assign_resource, connect_partitions
from ctc_spark.engine.planning.packing import (
    ERR_DOCUMENT_TOO_LARGE,
    ERR_EMPTY_DOCUMENT,
    ERR_NULL_DOCUMENT,
    PlannedDoc,
    pack,
    text_sha256,
    validate_text,
)


def _docs(sizes: list[int]) -> list[PlannedDoc]:
    return [PlannedDoc(f"d{i:03d}", "x" * n, text_sha256("x" * n)) for i, n in enumerate(sizes)]


def test_batches_respect_document_and_character_limits() -> None:
    docs = _docs([10] * 60 + [40_000] * 7 + [124_990, 20])
    batches = list(pack(docs, max_docs=25, max_chars=125_000, scope="p/d/single"))
    assert [d for b in batches for d in b.docs] == docs
    assert all(len(b.docs) <= 25 and b.chars <= 125_000 for b in batches)
    assert [len(b.docs) for b in batches][:3] == [25, 25, 13]


def test_batch_ids_are_stable_and_depend_on_scope_and_text() -> None:
    docs = _docs([5, 6, 7])
    first = [b.batch_id for b in pack(docs, max_docs=2, max_chars=100, scope="p/d")]
    assert first == [b.batch_id for b in pack(docs, max_docs=2, max_chars=100, scope="p/d")]
    assert first != [b.batch_id for b in pack(docs, max_docs=2, max_chars=100, scope="p/other")]
    changed = [*docs[:2], PlannedDoc("d002", "y" * 7, text_sha256("y" * 7))]
    assert first[1] != next(iter(pack(changed[2:], max_docs=2, max_chars=100, scope="p/d"))).batch_id


def test_a_document_over_the_request_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="'d000'"):
        list(pack(_docs([11]), max_docs=25, max_chars=10, scope="s"))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (None, ERR_NULL_DOCUMENT),
        ("", ERR_EMPTY_DOCUMENT),
        ("  \n", ERR_EMPTY_DOCUMENT),
        ("x" * 11, ERR_DOCUMENT_TOO_LARGE),
    ],
)
def test_validation_names_the_problem(text: str | None, code: str) -> None:
    result = validate_text(text, 10)
    assert result is not None and result[0] == code


def test_valid_text_passes() -> None:
    assert validate_text("fine", 10) is None


def test_resources_get_batches_in_proportion_to_quota() -> None:
    resources = (
        ResourceSettings("http://a", calls_per_minute=3000, name="a"),
        ResourceSettings("http://b", calls_per_minute=1000, name="b"),
    )
    picks = [assign_resource(f"batch-{i}", resources) for i in range(4000)]
    share_a = picks.count("a") / len(picks)
    assert 0.7 < share_a < 0.8
    assert picks == [assign_resource(f"batch-{i}", resources) for i in range(4000)]


def test_pack_frame_streams_chunks_with_the_same_batches_as_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from ctc_spark.config import Secret
    from ctc_spark.engine.planning import inputs as planning

    docs = [PlannedDoc(f"d{i:03d}", f"text {i}", text_sha256(f"text {i}")) for i in range(130)]
    frames = [
        pd.DataFrame(
            {"doc_id": [d.id for d in part], "text": [d.text for d in part], "text_sha256": [d.sha256 for d in part]}
        )
        for part in (docs[:70], docs[70:])
    ]
    resources = (ResourceSettings("http://127.0.0.1:1", Secret("k"), 1000),)
    monkeypatch.setattr(planning, "_PACK_CHUNK", 2)
    out = list(
        planning.pack_frame(iter(frames), max_docs=25, max_chars=125_000, scope="p/d/single", resources=resources)
    )
    whole = list(pack(docs, max_docs=25, max_chars=125_000, scope="p/d/single"))
    assert [len(f) for f in out] == [2, 2, 2]  # 6 batches, two to a frame: a worker never holds the partition
    got = pd.concat(out, ignore_index=True)
    assert list(got["batch_id"]) == [b.batch_id for b in whole]
    assert [list(ids) for ids in got["doc_ids"]] == [[d.id for d in b.docs] for b in whole]


@pytest.mark.parametrize(
    ("docs", "partitions"), [(0, 1), (1, 1), (1000, 1), (1001, 2), (200_000, 200), (50_000_000, 10_000)]
)
def test_connect_partitions_hold_about_a_thousand_documents_each(docs: int, partitions: int) -> None:
    assert connect_partitions(docs) == partitions
