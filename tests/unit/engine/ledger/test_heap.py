import ctypes

from ctc_spark.engine.ledger import heap


def test_trim_heap_returns_free_pages_where_glibc_has_malloc_trim():
    heap._malloc_trim.cache_clear()
    assert heap.trim_heap() is True  # the test machines run glibc
    assert heap._malloc_trim() is not None


def test_trim_heap_is_a_no_op_without_malloc_trim(monkeypatch):
    heap._malloc_trim.cache_clear()

    class NoTrim:
        def __init__(self, name):
            self.name = name

        def __getattr__(self, attr):
            raise AttributeError(attr)

    monkeypatch.setattr(ctypes, "CDLL", NoTrim)
    try:
        assert heap.trim_heap() is False
    finally:
        heap._malloc_trim.cache_clear()
