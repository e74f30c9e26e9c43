"""Stores at a base plus constants grow memory once (codegen coalesce_growth): gas, output and
failures stay the interpreter's at every gas budget, for bases near 2^32 and wrapping, with GAS,
MSIZE and host calls inside the run, and with memory copies and hashing between the stores."""

from __future__ import annotations

from pathlib import Path

from aot.analysis import analyse
from aot.loader import Contract, build_library
from aot.reference import run_frame
from aot.toolchain import find_compiler


def push(v: int) -> bytes:
    n = max(1, (v.bit_length() + 7) // 8)
    return bytes([0x5F + n]) + v.to_bytes(n, "big")


def stores(base: int, middle: bytes = b"") -> bytes:
    """MSTORE at base+64, base, base+160 (MSTORE8), base+32 with `middle` after the second; then
    RETURN of 32 bytes at base+32 (the base comes from calldata word 0 plus `base`)."""
    code = push(0) + b"\x35" + push(base) + b"\x01"  # CALLDATALOAD(0) + base
    for k, (c, op) in enumerate(((64, 0x52), (0, 0x52), (160, 0x53), (32, 0x52))):
        code += push(0xAA + k) + b"\x81" + push(c) + b"\x01" + bytes([op])  # value, DUP2 base, + c, store
        if k == 1:
            code += middle
    return code + push(32) + b"\x81" + push(32) + b"\x01" + b"\xf3"


MIDDLES = (b"", b"\x5a\x50", b"\x59\x50", b"\x30\x31\x50", b"\x60\x00\x54\x50",  # GAS, MSIZE, BALANCE, SLOAD
           # memory ops that do not end a run, inside and beyond the grown range (base on the stack):
           b"\x60\x40\x81\x20\x50",                          # KECCAK256(base, 64)
           b"\x60\x40\x60\x00\x61\x01\x00\x83\x01\x37",       # CALLDATACOPY(base + 256, 0, 64)
           b"\x60\x40\x81\x61\x01\x00\x83\x01\x5e",            # MCOPY(base + 256, base, 64)
           b"\x60\x20\x60\x00\x82\x39")                         # CODECOPY(base, 0, 32)


def test_coalesced_growth_matches_interpreter(tmp_path: Path) -> None:
    codes = [stores(base, middle) for base in (0, 7, 2**32 - 100, 2**256 - 40) for middle in MIDDLES]
    lib = build_library(find_compiler(), [(f"p{i}", analyse(c)) for i, c in enumerate(codes)], tmp_path / "m.so")
    for i, code in enumerate(codes):
        contract = Contract(lib, f"p{i}", code)
        for word in (0, 1, 2**32 - 200, 2**64):
            data = word.to_bytes(32, "big")
            full = 10**6 - run_frame(code, data, 10**6).gas_left
            for gas in sorted({0, 30, full // 2, full - 40, full - 3, full - 1, full, full + 1, 10**6}):
                want = run_frame(code, data, gas)
                assert run_frame(code, data, gas, contract) == want, (code.hex(), word, gas)
