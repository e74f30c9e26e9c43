"""Prove the toolchain: build `unsigned _BitInt(256)` arithmetic, load it with cffi, check against Python."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cffi

from aot.build import compile_shared
from aot.toolchain import Compiler

U256 = 1 << 256
OPS = ("add", "mul", "div", "shl", "shr")

_SOURCE = """
#include <string.h>
typedef unsigned _BitInt(256) u256;
static u256 ld(const unsigned char *p) { u256 v; memcpy(&v, p, 32); return v; }
static void st(unsigned char *p, u256 v) { memcpy(p, &v, 32); }
void u256_add(const unsigned char *a, const unsigned char *b, unsigned char *o) { st(o, ld(a) + ld(b)); }
void u256_mul(const unsigned char *a, const unsigned char *b, unsigned char *o) { st(o, ld(a) * ld(b)); }
void u256_div(const unsigned char *a, const unsigned char *b, unsigned char *o) {
    u256 d = ld(b); st(o, d == 0 ? (u256)0 : ld(a) / d);
}
void u256_shl(const unsigned char *a, const unsigned char *b, unsigned char *o) {
    u256 s = ld(b); st(o, s >= 256 ? (u256)0 : ld(a) << s);
}
void u256_shr(const unsigned char *a, const unsigned char *b, unsigned char *o) {
    u256 s = ld(b); st(o, s >= 256 ? (u256)0 : ld(a) >> s);
}
"""

_CDEF = "\n".join(f"void u256_{op}(const unsigned char *, const unsigned char *, unsigned char *);" for op in OPS)


def expected(op: str, a: int, b: int) -> int:
    """The EVM-style reference result of `op` on two u256 values."""
    if op == "add":
        return (a + b) % U256
    if op == "mul":
        return (a * b) % U256
    if op == "div":
        return 0 if b == 0 else a // b
    if op == "shl":
        return 0 if b >= 256 else (a << b) % U256
    return 0 if b >= 256 else a >> b


CASES: tuple[tuple[int, int], ...] = (
    (U256 - 1, 1),
    (U256 - 1, U256 - 1),
    (0x1234567890ABCDEF << 130 | 0xFEDCBA, 0x987654321 << 70 | 5),
    (3, 0),
    (1, 255),
    (U256 - 1, 256),
    (2**200 + 12345, 2**64 + 1),
)


def run_selftest(cc: Compiler) -> int:
    """Compile, load and check every op on CASES; return the number of checks, raise AssertionError on a mismatch."""
    ffi = cffi.FFI()
    ffi.cdef(_CDEF)
    with tempfile.TemporaryDirectory(prefix="megaeth-doctor-") as tmp:
        lib = ffi.dlopen(str(compile_shared(cc, _SOURCE, Path(tmp) / "bitint256.so")))
        out = ffi.new("unsigned char[32]")
        checks = 0
        for op in OPS:
            fn = getattr(lib, f"u256_{op}")
            for a, b in CASES:
                fn(a.to_bytes(32, "little"), b.to_bytes(32, "little"), out)
                got = int.from_bytes(ffi.buffer(out, 32), "little")
                want = expected(op, a, b)
                if got != want:
                    raise AssertionError(f"_BitInt(256) {op}({a:#x}, {b:#x}) = {got:#x}, expected {want:#x}")
                checks += 1
        return checks
