"""FastLZ compressed length in C (`native/fastlz.c`), the L1 data fee's hot loop (§7.4, §9.2).

Built on first use (`aot.cbuild`); `compress_len()` is None when it cannot be built here (callers then use
the Python form)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from aot import cbuild

SOURCE = Path(__file__).resolve().with_name("native") / "fastlz.c"
CDEF = "uint64_t flz_compress_len(const uint8_t *data, size_t n);"

@functools.cache
def compress_len() -> Callable[[bytes], int] | None:
    """`f(data) -> FastLZ length` in C, or None when it cannot be built here (decided once per process)."""
    built = cbuild.load(SOURCE, CDEF)
    if built is None:
        return None
    ffi, lib = built
    fn, from_buffer = lib.flz_compress_len, ffi.from_buffer

    def flz(data: bytes) -> int:
        return int(fn(from_buffer(data), len(data)))

    return flz
