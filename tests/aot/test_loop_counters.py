"""Loops whose counter runs as a 64-bit register (codegen's loop versioning) against the interpreter:
counters entering below and above 2^64, crossing 2^64 upwards and wrapping below zero inside the
loop (the 64-bit copy hands the value back to the 256-bit code), out of gas inside the loop, and
counters copied to other slots and memory. Status, output and gas left must be identical."""

from __future__ import annotations

import pytest

from aot.analysis import analyse
from aot.codegen import emit_function
from aot.loader import Contract, build_temp
from aot.reference import run_frame
from aot.toolchain import find_compiler

U256 = 2**256


def _asm(items: list[str | int | bytes]) -> bytes:
    """Hex opcodes, PUSH2 of a label ("@name") and labels (":name", a JUMPDEST)."""
    labels, pc = {}, 0
    for it in items:
        if isinstance(it, str) and it.startswith(":"):
            labels[it[1:]] = pc
            pc += 1
        else:
            raw = bytes.fromhex(it) if isinstance(it, str) and not it.startswith("@") else it
            pc += 3 if isinstance(raw, str) else len(raw)
    out = bytearray()
    for it in items:
        if isinstance(it, str) and it.startswith(":"):
            out.append(0x5B)
        elif isinstance(it, str) and it.startswith("@"):
            out += b"\x61" + labels[it[1:]].to_bytes(2, "big")
        else:
            out += bytes.fromhex(it) if isinstance(it, str) else it
    return bytes(out)


def _push(v: int) -> bytes:
    n = max(1, (v.bit_length() + 7) // 8)
    return bytes([0x5F + n]) + v.to_bytes(n, "big")


RETURN_TOP = ["5f52", "60205ff3"]  # MSTORE at 0, RETURN 32 bytes


def count_down(step: int) -> bytes:
    """acc = 0; n = calldata[0]; while n != 0: acc += n; n -= step; return acc."""
    return _asm(["5f35", "5f", "90", ":loop", "80", "15", "@end", "57", "90", "81", "01", "90",
                 _push(step), "90", "03", "@loop", "56", ":end", "50", *RETURN_TOP])


def count_up(step: int) -> bytes:
    """limit = calldata[0]; i = calldata[32]; while i != limit: i += step (memory holds i); return i."""
    return _asm(["5f35", "602035", ":loop", "81", "81", "14", "@end", "57", _push(step), "01",
                 "80", "5f", "52", "@loop", "56", ":end", *RETURN_TOP])


def nested() -> bytes:
    """for i = calldata[0]; i != 0; i--: for j = 3; j != 0; j--: acc ^= i * j; return acc."""
    return _asm(["5f35", "5f", "90", ":outer", "80", "15", "@end", "57", "6003", ":inner", "80", "15",
                 "@next", "57", "80", "82", "02", "83", "18", "92", "50", "6001", "90", "03", "@inner", "56",
                 ":next", "50", "6001", "90", "03", "@outer", "56",
                 ":end", "50", *RETURN_TOP])


def _word(v: int) -> bytes:
    return (v % U256).to_bytes(32, "big")


CASES = [
    ("down1", count_down(1), [0, 1, 5, 300, 2**64 - 1, 2**64, 2**64 + 3, 2**255]),
    ("down3", count_down(3), [0, 3, 7, 300, 2**64 + 2]),  # 7, 2^64 + 2: wraps below zero, runs out of gas
    ("up1", count_up(1), [(10, 0), (2**64 + 2, 2**64 - 5), (2**64 - 1, 2**64 - 9), (5, 2**200),
                          (U256 - 1, U256 - 4)]),
    ("up7", count_up(7), [(70, 0), (2**64 + 3, 2**64 - 4), (3, U256 - 4), (1, 2)]),
    ("nested", nested(), [0, 1, 40, 2**64 + 1]),
]


def _calldata(arg: int | tuple[int, int]) -> bytes:
    return b"".join(map(_word, arg)) if isinstance(arg, tuple) else _word(arg)


def test_counter_loops_get_a_64_bit_copy() -> None:
    for name, code, _ in CASES:
        assert "goto N0_" in emit_function(analyse(code), "c"), name


@pytest.mark.parametrize("gas", [40_000, 2_500, 600])
def test_counter_loops_match_interpreter(gas: int) -> None:
    lib = build_temp(find_compiler(), [(name, analyse(code)) for name, code, _ in CASES])
    for name, code, args in CASES:
        native = Contract(lib, name, code)
        for arg in args:
            data = _calldata(arg)
            want = run_frame(code, data, gas)
            assert run_frame(code, data, gas, native) == want, (name, arg, gas)
