"""Rex blocks with AOT forced (`--aot always`, the "rex" native flavour): every test of test_rex.py (gas
numbers from the spec, limits, detention, storage gas), test_mini_rex.py, test_rex2.py and test_fast_loop.py
(native against the reference loop: receipts, state diff, compute gas, limit halts, random programs) runs again
here with each contract compiled and run as native code, so native execution must reproduce them exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from megaeth_node.executor import native, rex_native
from tests.executor.test_fast_loop import *  # noqa: F403 - collected again here, with AOT forced
from tests.executor.test_fast_loop import _LOG_DATA, _logs_and_writes, _oracle_call, _rewrite_slots, _same
from tests.executor.test_mini_rex import *  # noqa: F403
from tests.executor.test_rex import *  # noqa: F403
from tests.executor.test_rex2 import *  # noqa: F403


@pytest.fixture(scope="module", autouse=True)
def aot_forced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    native.configure("always", Path(tmp_path_factory.mktemp("aot")))
    try:
        yield
        registry = native.registry_for("rex")
        assert registry is not None and registry.native_frames > 0, "no Rex frame ran natively"
    finally:
        native.configure("off", Path())


@pytest.mark.parametrize("iterations", [30_000, 60_000])
def test_compute_limit_crossed_inside_a_native_run_reruns_interpreted(iterations: int,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """After an oracle read (compute capped at 1,000,000, §6.2) a bounded loop of plain opcodes burns ~26 gas
    per iteration, then SLOAD asks the host for its slot: at 60,000 iterations the limit was crossed inside the
    run, which native code cannot place, so the host aborts before reading the slot and the tx is rolled back
    and re-run interpreted (one NativeAbort; the state reads are the interpreter's); at 30,000 it was not, and
    native code finishes the tx. Both equal the reference loop."""
    aborts: list[str] = []
    original = rex_native.NativeAbort.__init__
    monkeypatch.setattr(rex_native.NativeAbort, "__init__",
                        lambda self, msg: (aborts.append(msg), original(self, msg))[1])
    call = _oracle_call()
    loop_at = len(call) + 4
    code = (call + bytes([0x62]) + iterations.to_bytes(3, "big")
            + bytes([JUMPDEST, PUSH1, 1, SWAP1, 0x03, DUP1, PUSH2]) + loop_at.to_bytes(2, "big")
            + bytes([JUMPI, POP, PUSH0, 0x54, STOP]))
    _same({CONTRACT: code, ORACLE_ADDRESS: bytes([STOP])}, [3_000_000])
    crossed = [m for m in aborts if "compute limit" in m]
    assert len(crossed) == (1 if iterations == 60_000 else 0)


def test_only_sstores_owing_storage_gas_or_growth_reach_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """Of `_rewrite_slots(10)`'s 19 SSTOREs over odd slots starting non-zero, the host's wrapper runs
    the ten that owe storage gas (0 -> 1 of the five even slots) or undo state growth (their 1 -> 0); the
    first writes, write-backs and clears of the rest run natively, as the reference loop has them."""
    ops: list[int] = []
    original = rex_native.RexHost.opcode
    monkeypatch.setattr(rex_native.RexHost, "opcode",
                        lambda self, frame, op, *rest: (ops.append(op), original(self, frame, op, *rest))[1])
    _same({CONTRACT: _rewrite_slots(10)}, [1_000_000], storage=STORED)
    assert ops.count(SSTORE) == 10


def test_only_logs_that_may_cross_a_limit_or_halt_reach_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """LOGs within the data-size room run natively (none reaches the host's wrapper); a LOG in a static
    context is the host's, which raises the interpreter's WriteProtection."""
    logs: list[int] = []
    original = rex_native.RexHost._log
    monkeypatch.setattr(rex_native.RexHost, "_log", lambda self, topics, *rest: (logs.append(topics),
                                                                                  original(self, topics, *rest))[1])
    _same({CONTRACT: _logs_and_writes(5)}, [1_000_000], storage=STORED)
    assert logs == []
    static = bytes([PUSH0, PUSH0, PUSH0, PUSH0, 0x73]) + CHILD + bytes([GAS, 0xFA, PUSH0, 0x55, STOP])
    log2 = _LOG_DATA + bytes([PUSH1, 1, PUSH1, 2, PUSH1, 40, PUSH1, 3, 0xA2, STOP])
    receipts = _same({CONTRACT: static, CHILD: log2}, [1_000_000])[0]
    assert logs == [2] and receipts[0].logs == ()  # type: ignore[index]


def test_native_log_storage_gas_is_not_compute_gas(monkeypatch: pytest.MonkeyPatch) -> None:
    """After an oracle read (compute capped at 1,000,000, §6.2) a LOG0 of 12,000 bytes owes 960,000 storage gas
    and ~98,000 compute gas, then SLOAD asks the host for its slot: the host's compute check before the read
    leaves the native LOG's storage gas out, so the run goes on natively (no NativeAbort) and equals the
    reference loop."""
    aborts: list[str] = []
    original = rex_native.NativeAbort.__init__
    monkeypatch.setattr(rex_native.NativeAbort, "__init__",
                        lambda self, msg: (aborts.append(msg), original(self, msg))[1])
    code = _oracle_call() + bytes([0x61, 0x2E, 0xE0, PUSH0, 0xA0, PUSH0, 0x54, STOP])
    _same({CONTRACT: code, ORACLE_ADDRESS: bytes([STOP])}, [3_000_000])
    assert aborts == []
