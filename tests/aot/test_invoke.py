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


CALLVALUE_THEN_REVERT = bytes.fromhex("346000526000351560105760206000fd5b60206000f3")  # REVERT unless word 0 is 0


def test_extension_and_libffi_agree_on_value_and_revert(tmp_path: Path) -> None:
    cc = find_compiler()
    fast = build_library(cc, [("c", analyse(CALLVALUE_THEN_REVERT))], tmp_path / "c.so")
    plain = Library(fast.path, ["c"])
    for data, value, status in ((bytes(32), 7, 1), ((1).to_bytes(32, "big"), 2**255 + 3, 2), (b"", 0, 1)):
        outs = [Contract(lib, "c", CALLVALUE_THEN_REVERT).run(10**5, data, value=value) for lib in (fast, plain)]
        assert outs[0] == outs[1]
        assert (outs[0].status, int.from_bytes(outs[0].output, "big")) == (status, value)


def test_pooled_and_given_frame_runs_agree(tmp_path: Path) -> None:
    """Runs without callbacks take a pooled frame in C; with on_frame/on_exit the frame is handed out."""
    cc = find_compiler()
    fast = build_library(cc, [("c", analyse(CALLVALUE_THEN_REVERT))], tmp_path / "c.so")
    for lib in (fast, Library(fast.path, ["c"])):
        contract, seen = Contract(lib, "c", CALLVALUE_THEN_REVERT), []
        pooled = contract.run(10**5, bytes(32), value=9)
        given = contract.run(10**5, bytes(32), on_frame=seen.append, on_exit=lambda f, st: seen.append(st), value=9)
        assert pooled == given and seen[1] == 1 and int(seen[0].gas) == given.gas_left
        assert len(lib.frames) == 1
