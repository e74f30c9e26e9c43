"""ADDMOD/MULMOD by a constant power-of-two modulus (or 0) compile to a masked add/multiply: results
and gas equal the interpreter's for operands around the modulus and the word size."""

from __future__ import annotations

from pathlib import Path

from aot.analysis import analyse
from aot.loader import Contract, build_library
from aot.reference import run_frame
from aot.toolchain import find_compiler

U256 = 2**256
MODULI = (0, 1, 2, 2**64, 2**128, 2**255, 3, 2**64 + 1)
OPERANDS = (0, 1, 2**64 - 1, 2**64, 2**64 + 3, 2**255, U256 - 1, 0x1234 << 200 | 0xFFFF)


def program(op: int, n: int) -> bytes:
    """op(CALLDATALOAD(0), CALLDATALOAD(32), n) returned as one word."""
    push_n = bytes([0x7F]) + n.to_bytes(32, "big")
    return push_n + bytes.fromhex("602035600035") + bytes([op]) + bytes.fromhex("60005260206000f3")


def test_power_of_two_moduli_match_interpreter(tmp_path: Path) -> None:
    codes = [program(op, n) for op in (0x08, 0x09) for n in MODULI]
    lib = build_library(find_compiler(), [(f"p{i}", analyse(c)) for i, c in enumerate(codes)], tmp_path / "m.so")
    for i, code in enumerate(codes):
        contract = Contract(lib, f"p{i}", code)
        for a in OPERANDS:
            for b in OPERANDS:
                data = a.to_bytes(32, "big") + b.to_bytes(32, "big")
                assert run_frame(code, data, 10**5, contract) == run_frame(code, data, 10**5), (code.hex(), a, b)
