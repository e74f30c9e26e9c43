"""Entries called through aot.invoke's extension and through libffi behave alike."""

from __future__ import annotations

from pathlib import Path

from aot.analysis import analyse
from aot.loader import Contract, Library, build_library
from aot.toolchain import find_compiler

FIB = bytes.fromhex("600035600060015b8215601c578181019150909160019003916007565b5060005260206000f3")


def test_extension_and_libffi_calls_agree(tmp_path: Path) -> None:
    cc = find_compiler()
    fast = build_library(cc, [("fib", analyse(FIB))], tmp_path / "fib.so")
    plain = Library(fast.path, ["fib"])
    assert fast.function("fib") is not plain.function("fib")
    data = (93).to_bytes(32, "big")
    outcomes = [Contract(lib, "fib", FIB).run(10**6, data) for lib in (fast, plain)]
    assert outcomes[0] == outcomes[1]
    assert int.from_bytes(outcomes[0].output, "big") == 12200160415121876738
