"""The Rex interpreter loop (`fastops` entries, compute gas metered per run of plain opcodes) against the
reference loop (py-evm's own opcodes, compute gas recorded after every opcode; the loop a trace hook
selects): same receipts, state diff, compute gas and limit halts, on hand-picked edge cases and random
programs."""

from __future__ import annotations

import functools
import random
from dataclasses import replace

import pytest
from eth.vm.forks.byzantium.opcodes import ensure_no_static
from eth.vm.logic.logging import log_XX
from gas.limits import log_usage
from gas.spec import Spec
from gas.storage import log_storage_gas
from gas.system import ORACLE_ADDRESS

from megaeth_node.executor import rex
from megaeth_node.executor.block import OpenBlock
from megaeth_node.executor.rex import RexRules
from tests.executor.test_rex import CHILD, CONTRACT, REX, _block, _state, _tx

PUSH0, PUSH1, PUSH2, PUSH32, DUP1, SWAP1, POP = 0x5F, 0x60, 0x61, 0x7F, 0x80, 0x90, 0x50
JUMP, JUMPI, JUMPDEST, MSTORE, MLOAD, ADD, GAS = 0x56, 0x57, 0x5B, 0x52, 0x51, 0x01, 0x5A
STATICCALL, CALL, STOP, RETURN, REVERT = 0xFA, 0xF1, 0x00, 0xF3, 0xFD


def _execute(codes: dict[bytes, bytes], gases: list[int], spec: Spec, reference: bool,
             to: bytes = CONTRACT, storage: dict[int, int] | None = None) -> tuple[object, ...]:
    state = _state(codes)
    state.storage_map.update({(to, slot): value for slot, value in (storage or {}).items()})
    txs = [_tx(i, to=to, gas=g) for i, g in enumerate(gases)]
    block = _block(*txs)
    run = OpenBlock(state, block.header, REX, RexRules(spec))
    if reference:
        run.evm_state.rex.trace = lambda computation, opcode, pc: None  # type: ignore[attr-defined]
    meters = []
    for tx, sender in zip(block.transactions, block.senders, strict=True):
        run.execute(tx, sender)
        rex = run.evm_state.rex  # type: ignore[attr-defined]
        meters.append((rex.compute_used, rex.compute_limit, rex.exceeded, rex.rescued))
    result = run.finish()
    return result.receipts, result.gas_used, result.state_diff, tuple(meters)


def _same(codes: dict[bytes, bytes], gases: list[int], spec: Spec = Spec.REX, to: bytes = CONTRACT,
          storage: dict[int, int] | None = None) -> tuple[object, ...]:
    fast = _execute(codes, gases, spec, False, to, storage)
    reference = _execute(codes, gases, spec, True, to, storage)
    assert fast == reference
    return reference


def _loop_of_plain_opcodes(start: int = 0) -> bytes:
    """JUMPDEST, PUSH1 1 ADD … forever: only fast entries, so the compute limit is met inside a run."""
    return bytes([JUMPDEST, PUSH1, 1, ADD, PUSH1, 7, MLOAD, POP, PUSH1, start, JUMP])


def _oracle_call() -> bytes:
    return bytes([PUSH0, PUSH0, PUSH0, PUSH0, 0x73]) + ORACLE_ADDRESS + bytes([GAS, STATICCALL, POP])


@pytest.mark.parametrize("gas", [60_000, 61_234, 300_000, 2_000_000])
def test_compute_limit_hit_inside_a_run_of_plain_opcodes(gas: int) -> None:
    """The oracle read caps compute at 1,000,000 (§6.2); the loop then crosses it on a plain opcode."""
    code = bytes([PUSH0]) + _oracle_call() + _loop_of_plain_opcodes(1 + len(_oracle_call()))
    _same({CONTRACT: code, ORACLE_ADDRESS: bytes([STOP])}, [gas, gas])


@pytest.mark.parametrize("code", [
    bytes([ADD]),                                   # stack underflow after the static gas
    bytes([PUSH1, 3, JUMP, JUMPDEST]),              # jump into nowhere
    bytes([PUSH1, 4, JUMP, PUSH1, JUMPDEST]),       # jump into PUSH data
    bytes([PUSH1, 1, PUSH1, 5, JUMPI, JUMPDEST]),   # JUMPI taken, landing on a JUMPDEST
    bytes([PUSH32]) + b"\xff" * 32 + bytes([MLOAD]),  # memory expansion out of gas
    bytes([PUSH2, 0xFF, 0xFF, MSTORE]),             # stack underflow after popping the offset
    bytes([PUSH1, 42, PUSH1, 0, MSTORE, PUSH1, 32, PUSH1, 0, RETURN]),
    bytes([PUSH1, 42, PUSH1, 0, MSTORE, PUSH1, 32, PUSH1, 0, REVERT]),
    bytes([PUSH1]),                                 # truncated PUSH data reads as zeros
    bytes([DUP1]) + bytes([PUSH0] * 1024),          # DUP underflow
    bytes([PUSH0] * 1025),                          # stack overflow
    bytes([0x0C]),                                  # an undefined opcode
])
def test_edge_cases(code: bytes) -> None:
    _same({CONTRACT: code}, [100_000])


def test_out_of_gas_at_every_point_of_a_call() -> None:
    """A parent calling a child that loops; gas limits sweep the point where each frame runs dry."""
    call = bytes([PUSH0, PUSH0, PUSH0, PUSH0, PUSH0, 0x73]) + CHILD + bytes([GAS, CALL, POP, STOP])
    codes = {CONTRACT: call, CHILD: _loop_of_plain_opcodes()}
    _same(codes, [60_000 + 997 * i for i in range(12)])


# opcode: (items popped, items pushed)
_VOCABULARY: dict[int, tuple[int, int]] = {
    **{op: (2, 1) for op in (ADD, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0A, 0x0B, 0x10, 0x11, 0x12, 0x13, 0x14,
                             0x16, 0x17, 0x18, 0x1A, 0x1B, 0x1C, 0x1D, 0x20)},
    **{op: (1, 1) for op in (0x15, 0x19, MLOAD, 0x35, 0x54)},
    **{op: (0, 1) for op in (0x59, GAS, PUSH0, 0x58, 0x30, 0x33, 0x34, 0x36)},
    **{op: (3, 1) for op in (0x08, 0x09)},
    POP: (1, 0), MSTORE: (2, 0), 0x53: (2, 0), 0x55: (2, 0), JUMPDEST: (0, 0),
    **{DUP1 + i: (i + 1, i + 2) for i in range(16)}, **{SWAP1 + i: (i + 2, i + 2) for i in range(16)},
}


def _random_program(rng: random.Random, depth: int) -> bytes:
    """Mostly stack-balanced random code (it starts with `depth` items), with the odd bad jump."""
    out = bytearray()
    ops = list(_VOCABULARY)
    for _ in range(rng.randrange(5, 80)):
        kind = rng.random()
        if kind < 0.3 or depth < 2:
            size = rng.choice([1, 1, 2, 4, 20, 32])
            out.append(PUSH1 + size - 1)
            out += bytes(rng.choice([0, 1, 2, 31, 32, 255]) if size == 1 else rng.randrange(256) for _ in range(size))
            depth += 1
        elif kind < 0.31:
            out += bytes([PUSH1, rng.randrange(min(len(out) + 8, 256)), rng.choice([JUMP, JUMPI])])
        else:
            op = rng.choice(ops)
            pops, pushes = _VOCABULARY[op]
            if op in (MLOAD, MSTORE, 0x53, 0x20):  # keep memory offsets small
                out += bytes([POP, PUSH1, rng.randrange(96)])
            if pops <= depth:
                out.append(op)
                depth += pushes - pops
    return bytes(out)


SEEDS = bytes([PUSH32]) + bytes(range(200, 232)) + bytes([PUSH1, 0x80]) + bytes([PUSH1, 3, PUSH1, 255, 0x19]) * 4
DUMP = b"".join(bytes([PUSH1, slot, 0x55]) for slot in range(6))  # the top six items into slots 0–5


@pytest.mark.parametrize("seed", range(200))
def test_random_programs(seed: int) -> None:
    """Random straight-line code with a few jumps; the stack top ends up in storage (the state diff)."""
    rng = random.Random(seed)
    codes = {CONTRACT: SEEDS + _random_program(rng, 10) + DUMP}
    gas = rng.choice([60_050, 61_000, 70_000, 1_000_000, 1_000_000, 1_000_000])
    _same(codes, [gas], rng.choice([Spec.REX, Spec.REX1]))


_OPERANDS = [0, 1, 2, 7, 31, 32, 255, 256, 2**255, 2**255 - 1, 2**256 - 1, 2**256 - 2]


@pytest.mark.parametrize("op", [ADD, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x16, 0x17,
                                0x18, 0x1A, 0x1B, 0x1C, 0x1D])
def test_binary_opcodes_on_boundary_operands(op: int) -> None:
    """Every operand pair of `_OPERANDS` (as int and as bytes on the stack: MLOAD pushes bytes in py-evm)."""
    code = bytearray()
    for i, (a, b) in enumerate((a, b) for a in _OPERANDS for b in _OPERANDS):
        code += bytes([PUSH32]) + b.to_bytes(32, "big") + bytes([PUSH1, 0, MSTORE, PUSH1, 0, MLOAD])
        code += bytes([PUSH32]) + a.to_bytes(32, "big") + bytes([op, PUSH2]) + i.to_bytes(2, "big") + bytes([0x55])
    _same({CONTRACT: bytes(code)}, [30_000_000])


@pytest.mark.parametrize("op", [0x15, 0x19])
def test_unary_opcodes_on_boundary_operands(op: int) -> None:
    code = b"".join(bytes([PUSH32]) + a.to_bytes(32, "big") + bytes([op, PUSH1, i, 0x55])
                    for i, a in enumerate(_OPERANDS))
    _same({CONTRACT: code}, [30_000_000])


def _py_evm_rex_log(computation: object, meters: rex.RexMeters, topics: int, static_gas: int, start: int,
                    size: int, topic_words: list[int]) -> None:
    """The Rex LOG built from py-evm's own LOGn (the `_FastOpcode` `rex_log` inlines): storage gas, static
    gas, `ensure_no_static(log_XX)` on the arguments put back on the stack, then the data-size meter."""
    computation._stack.values.extend([*reversed(topic_words), size, start])  # type: ignore[attr-defined]
    charge = log_storage_gas(meters.spec, topics, size).storage
    if charge:
        computation.consume_gas(charge, "LOG storage gas")  # type: ignore[attr-defined]
    computation._op_start = computation._gas_meter.gas_remaining  # type: ignore[attr-defined]
    computation.consume_gas(static_gas, "LOG")  # type: ignore[attr-defined]
    ensure_no_static(functools.partial(log_XX, topic_count=topics))(computation)
    meters.record_usage(log_usage(topics, size))


_LOG_DATA = bytes([PUSH32]) + bytes(range(1, 33)) + bytes([PUSH1, 8, MSTORE])  # memory: 40 bytes written


@pytest.mark.parametrize("code", [
    *(_LOG_DATA + bytes([x for k in range(n) for x in (PUSH1, 3 * k, MLOAD)] + [PUSH1, 40, PUSH1, 3, 0xA0 + n])
      for n in range(5)),  # distinct topics, as bytes on py-evm's stack
    *(_LOG_DATA + bytes([x for k in range(n) for x in (PUSH1, 7 + k)] + [PUSH0, PUSH0, 0xA0 + n]) for n in range(5)),  # no data
    bytes([PUSH1, 7, PUSH1, 70, PUSH1, 100, 0xA1]),   # memory expansion
    bytes([PUSH1, 7, PUSH1, 32, PUSH0, 0xA2]),        # a topic short: underflow after the storage gas
    bytes([PUSH1, 32, 0xA0]),                         # no length: underflow before it
    bytes([PUSH1, 7, 0x64, 1, 0, 0, 0, 0, PUSH0, 0xA1]),  # 2^32 bytes: out of gas
])
def test_inlined_log_is_py_evms(code: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rex.rex_log` against py-evm's LOG logic, called directly and from a STATICCALL (write protection); and
    the whole LOG (run by the host for native frames where AOT is on, `RexHost._log`) against the reference loop."""
    static = bytes([PUSH0, PUSH0, PUSH0, PUSH0, 0x73]) + CHILD + bytes([GAS, STATICCALL, PUSH0, 0x55, STOP])
    for codes in ({CONTRACT: code}, {CONTRACT: static, CHILD: code}):
        for gas in (60_000, 63_300, 1_000_000):
            inlined = _execute(codes, [gas], Spec.REX, False)
            assert inlined == _execute(codes, [gas], Spec.REX, True)
            with monkeypatch.context() as m:
                m.setattr(rex, "rex_log", _py_evm_rex_log)
                assert _execute(codes, [gas], Spec.REX, False) == inlined



SLOAD, SSTORE, SUB = 0x54, 0x55, 0x03
DELEGATED = b"\xd7" * 20  # an EOA delegating to CONTRACT (EIP-7702): CONTRACT's code on its storage
STORED = {k: 5 + k for k in range(1, 10, 2)}  # odd slots start non-zero, even ones zero


def _rewrite_slots(n: int) -> bytes:
    """Slot k += 1 for every k < n (first writes; 0 -> 1 owes storage gas), then the even slots written back
    (k -= 1: a first write undone; 1 -> 0 of an original 0 undoes state growth), then every third slot
    cleared."""
    code = bytearray()
    for k in range(n):
        code += bytes([PUSH1, k, SLOAD, PUSH1, 1, ADD, PUSH1, k, SSTORE])
    for k in range(0, n, 2):
        code += bytes([PUSH1, 1, PUSH1, k, SLOAD, SUB, PUSH1, k, SSTORE])
    for k in range(0, n, 3):
        code += bytes([PUSH0, PUSH1, k, SSTORE])
    return bytes(code)


@pytest.mark.parametrize("kv, data", [*((kv, 10**9) for kv in range(1, 14)),
                                      *((10**9, 150 + 40 * k + x) for k in range(12) for x in (0, 39))])
def test_slot_writes_against_small_kv_and_data_limits(kv: int, data: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Txs rewriting the same slots (every SSTORE usage case of §4.3–4.5, from zero and non-zero originals)
    under KV-update and data-size limits lowered so that the slot writes cross them at each SSTORE in turn:
    the halting SSTORE, rescued gas and meters as the reference loop has them (native code counts first
    writes only within the room the host gives it)."""
    limits = rex.tx_limits
    monkeypatch.setattr(rex, "tx_limits", lambda spec, compute: replace(limits(spec, compute), kv_updates=kv,
                                                                        data_size=data))
    meters = _same({CONTRACT: _rewrite_slots(10)}, [1_000_000] * 2, storage=STORED)[3]
    halted = [m[2] is not None for m in meters]  # type: ignore[index]
    assert halted == [kv < 11 or data < 150 + 40 * 10] * 2


def _logs_and_writes(n: int) -> bytes:
    """`n` times: a first write of an odd slot of `STORED` (non-zero: no storage gas, 40 bytes of data size),
    then a LOG2 of 40 bytes (104 bytes of data size)."""
    code = bytearray(_LOG_DATA)
    for k in range(1, 2 * n, 2):
        code += bytes([PUSH1, 100, PUSH1, k, SSTORE, PUSH1, 1, PUSH1, 2, PUSH1, 40, PUSH1, 3, 0xA2])
    return bytes(code)


@pytest.mark.parametrize("data", [150 + 144 * k + x for k in range(6) for x in (0, 40, 143)])
def test_logs_and_slot_writes_against_a_small_data_limit(data: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slot writes and LOGs sharing a data-size limit lowered so that they cross it at each SSTORE and each LOG
    in turn: the halting opcode, rescued gas, meters and logs as the reference loop has them (native code
    counts both only within the rooms the host gives it)."""
    limits = rex.tx_limits
    monkeypatch.setattr(rex, "tx_limits", lambda spec, compute: replace(limits(spec, compute), data_size=data))
    meters = _same({CONTRACT: _logs_and_writes(5)}, [1_000_000] * 2, storage=STORED)[3]
    assert [m[2] is not None for m in meters] == [data < 150 + 144 * 5] * 2  # type: ignore[index]


REVERTER = b"\xc2" * 20


def test_logs_around_calls_keep_their_order() -> None:
    """LOGs before, between and after calls, one into a frame that reverts: the receipt has the caller's and
    the successful callee's entries in emission order, the reverted frame's none."""
    call = [PUSH0, PUSH0, PUSH0, PUSH0, PUSH0]
    code = bytes([PUSH0, PUSH0, 0xA0, *call, 0x73, *CHILD, GAS, CALL, POP, PUSH1, 1, PUSH0, PUSH0, 0xA1,
                  *call, 0x73, *REVERTER, GAS, CALL, POP, PUSH1, 2, PUSH1, 3, PUSH0, PUSH0, 0xA2, STOP])
    logged = bytes([PUSH1, 9, PUSH0, PUSH0, 0xA1])
    receipts = _same({CONTRACT: code, CHILD: logged + bytes([STOP]), REVERTER: logged + bytes([PUSH0, PUSH0, REVERT])},
                     [1_000_000])[0]
    logs = receipts[0].logs  # type: ignore[index]
    assert [(lg.address, [int.from_bytes(t, "big") for t in lg.topics]) for lg in logs] == [
        (CONTRACT, []), (CHILD, [9]), (CONTRACT, [1]), (CONTRACT, [3, 2])]


def test_slot_writes_of_a_delegated_account() -> None:
    """An EOA delegating to the contract runs its code on the EOA's own storage, where the Rex SSTORE wrapper
    reads a slot's present value as its original (upstream's delegated `inspect_storage`)."""
    codes = {CONTRACT: _rewrite_slots(10), DELEGATED: b"\xef\x01\x00" + CONTRACT}
    _same(codes, [1_000_000] * 3, to=DELEGATED, storage=STORED)
