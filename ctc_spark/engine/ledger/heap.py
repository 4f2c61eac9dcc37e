"""Give the memory a long run has freed back to the operating system, which glibc's malloc would otherwise keep.

A run allocates every document's text several times over, across threads (the read-ahead, the event loop,
the ledger's writers), each with its own malloc arena. Freed, those blocks stay in the arenas: the driver
engine's resident memory grew ~1.5 KB a document while Python's own heap stayed flat (tracemalloc). Trimming
after each results write holds it flat.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

__all__ = ["trim_heap"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS, Windows): nothing to trim
        return None
    return trim


def trim_heap() -> bool:
    """Return free pages to the OS (glibc's `malloc_trim(0)`); False where the C library has no such call."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
