"""Entries called through aot.invoke's extension and through libffi behave alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aot.analysis import analyse
from aot.loader import HOST_ENV, HOST_ERROR, HOST_SLOAD, INVALID, RETURN, STOP, Contract, Library, build_library
from aot.toolchain import find_compiler

FIB = bytes.fromhex("600035600060015b8215601c578181019150909160019003916007565b5060005260206000f3")


def test_extension_and_libffi_calls_agree(tmp_path: Path) -> None:
    cc = find_compiler()
    fast = build_library(cc, [("fib", analyse(FIB))], tmp_path / "fib.so")
    plain = Library(fast.path, ["fib"])
    assert fast.extension is not None and plain.extension is None  # the comparison below is C against libffi
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


# SLOAD(5) + CALLER + BALANCE(7), returned as one word after EXTCODECOPY(0, 1, 2, 3)
HOST_REQUESTS = bytes.fromhex("600554" "33" "01" "600731" "01" "6003600260016000" "3c" "60005260206000f3")


class RecordingHost:
    """Answers slot loads, environment values and BALANCE with values derived from the request; records them."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.seen: list[tuple[object, ...]] = []
        self.fail_on = fail_on

    def sload(self, key: int, gas: int) -> tuple[int, int, int] | int:
        self.seen.append(("sload", key, gas))
        if self.fail_on == HOST_SLOAD:
            return INVALID
        return 1000 + key, 7, 1  # warm: 100 gas

    def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> tuple[int, int, int | None]:
        self.seen.append((op, pc, gas, args))
        if op == self.fail_on:
            raise RuntimeError("host failure")
        return 0, gas - 5, 2**255 + op + sum(args)


def test_extension_and_libffi_serve_host_requests_alike(tmp_path: Path) -> None:
    """Slot loads, environment values and host opcodes reach the host with the same arguments and their
    answers reach the code alike, through the extension's host function and through a cffi callback;
    a failing host or a refused load ends the frame with the same status."""
    cc = find_compiler()
    fast = build_library(cc, [("h", analyse(HOST_REQUESTS))], tmp_path / "h.so")
    plain = Library(fast.path, ["h"])
    assert fast.extension is not None and plain.extension is None
    for fail_on, status in ((None, RETURN), (HOST_SLOAD, INVALID), (0x31, HOST_ERROR)):
        runs = []
        for lib in (fast, plain):
            host = RecordingHost(fail_on)
            runs.append((Contract(lib, "h", HOST_REQUESTS).run(10**5, b"", host), host.seen))
        (out, seen), (plain_out, plain_seen) = runs
        assert out == plain_out and seen == plain_seen and out.status == status
        assert seen[0] == ("sload", 5, 10**5 - 3)  # the gas left after the PUSH
        if fail_on is None:
            assert [s[0] for s in seen] == ["sload", HOST_ENV | 0x33, 0x31, 0x3C]
            assert seen[2][3] == [7] and seen[3][3] == [3, 2, 1, 0]  # stack arguments, deepest first
            assert int.from_bytes(out.output, "big") == (1005 + 2**255 + (HOST_ENV | 0x33) + 2**255 + 0x31 + 7) % 2**256


# SLOAD(1) (cold), SSTORE(2, 7) (cold), STOP
LOAD_AND_STORE = bytes.fromhex("6001545060076002" "55" "00")


class EmptyStorage:
    def sload(self, key: int, gas: int) -> tuple[int, int, int]:
        return 0, 0, 0  # zero and cold

    def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> tuple[int, int, None]:
        return INVALID, gas, None


def test_extension_and_python_read_the_slot_cache_alike(tmp_path: Path) -> None:
    """The slots a frame made warm and wrote, read from its cache by the extension and in Python."""
    cc = find_compiler()
    fast = build_library(cc, [("s", analyse(LOAD_AND_STORE))], tmp_path / "s.so")
    assert fast.extension is not None
    seen = []
    for lib in (fast, Library(fast.path, ["s"])):
        out = Contract(lib, "s", LOAD_AND_STORE).run(10**5, b"", EmptyStorage(),
                                                    on_exit=lambda frame, st, lib=lib: seen.append(lib.take_slots(frame)))
        assert out.status == STOP
    assert seen == [([1, 2], [(2, 7)])] * 2


class Malformed:
    """Answers one kind of request (HOST_SLOAD, or opcode) with `answer`, the other one well."""

    def __init__(self, sload: bool, answer: object) -> None:
        self.on_sload, self.answer = sload, answer

    def sload(self, key: int, gas: int) -> object:
        return self.answer if self.on_sload else (1, 1, 1)

    def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> object:
        return (0, gas, 1) if self.on_sload else self.answer


@pytest.mark.parametrize(("sload", "answer"), [
    (True, 0), (True, -3), (True, 2**31), (True, [1, 2, 1]), (True, (1, 2)), (True, (b"\x01", 2, 1)),
    (True, (2**256, 2, 1)), (True, (1, -2, 1)), (True, (1, 2, 256)), (True, (1, 2, -1)), (True, None),
    (False, (0, 10**5, b"\x01")), (False, (0, 10**5, "abc")), (False, (0, 10**5, 2**256)), (False, (0, 10**5, -1)),
    (False, (2**32 + 1, 10**5, None)), (False, (-1, 10**5, None)), (False, [0, 10**5, 1]), (False, (0, 2**63, 1)),
    (False, (0, "gas", 1)), (False, 0),
])
def test_malformed_host_answers_end_the_frame(tmp_path: Path, sload: bool, answer: object) -> None:
    """Any answer outside the `Host` protocol ends the frame with HOST_ERROR, through the extension and cffi."""
    cc = find_compiler()
    fast = build_library(cc, [("h", analyse(HOST_REQUESTS))], tmp_path / "h.so")
    for lib in (fast, Library(fast.path, ["h"])):
        assert Contract(lib, "h", HOST_REQUESTS).run(10**5, b"", Malformed(sload, answer)).status == HOST_ERROR


# MSTORE(0, 0xabcd…), LOG2(offset 30, size 2, topics 7, 2^255 + 1), LOG0(offset 0, size 0), STOP
LOGS = bytes.fromhex("7f" + "ab" * 32 + "600052" "7f80" + "00" * 30 + "01" "6007" "6002601e" "a2" "5f5f" "a0" "00")


class LogHost(RecordingHost):
    """Serves a LOG for 5 gas (no value pushed)."""

    def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> tuple[int, int, None]:
        self.seen.append((op, pc, gas, args))
        return 0, gas - 5, None


@pytest.mark.parametrize("room", [66, 65])
def test_native_logs_are_read_alike_or_go_to_the_host(tmp_path: Path, room: int) -> None:
    """"rex" native LOGs within the frame's data-size room are recorded in the frame (read alike through the
    extension and in Python) with their gas and storage gas charged; one past the room goes to the host with
    its arguments (the LOG2 adds 66 bytes of data size, the LOG0 none)."""
    cc = find_compiler()
    fast = build_library(cc, [("l", analyse(LOGS, "rex"))], tmp_path / "l.so")
    results = []
    for lib in (fast, Library(fast.path, ["l"])):
        taken: list[object] = []

        def bind(frame: Any) -> None:
            frame.rex_log, frame.log_room, frame.log_topic_gas, frame.log_byte_gas = 1, room, 3750, 80

        def exit_(frame: Any, status: int, lib: Library = lib, taken: list[object] = taken) -> None:
            taken.extend([lib.take_logs(frame), int(frame.log_bytes), int(frame.log_storage_gas)])

        host = LogHost()
        results.append((Contract(lib, "l", LOGS).run(10**6, b"", host, bind, exit_), taken, host.seen))
    assert results[0] == results[1]
    out, taken, seen = results[0]
    assert out.status == STOP
    if room == 66:
        assert taken == [[((7, 2**255 + 1), b"\xab\xab"), ((), b"")], 66, 2 * 3750 + 2 * 80]
        assert seen == [] and out.gas_left == 10**6 - 24 - (7660 + 375 * 3 + 8 * 2) - 4 - 375
    else:
        assert taken == [[((), b"")], 0, 0]
        assert seen == [(0xA2, 75, 10**6 - 24, [2**255 + 1, 7, 2, 30])]
        assert out.gas_left == 10**6 - 24 - 5 - 4 - 375
