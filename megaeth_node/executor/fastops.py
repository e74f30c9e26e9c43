"""py-evm's hottest opcodes as single calls, for the Rex interpreter loop (`rex.RexComputation`).

A py-evm `_FastOpcode` costs three Python calls before its logic runs (`__call__` → `consume_gas` →
`GasMeter.consume_gas`) and its stack helpers validate every item. The loop here calls each table entry as
`fn(computation, stack_values, gas_meter)`; the entries for the stack, flow, arithmetic and memory opcodes
below do the static gas check, the stack bounds checks and the logic inline, with py-evm's semantics:
the same gas (static cost from py-evm's own table, memory expansion through `extend_memory`), the same
exception classes in the same order (OutOfGas before InsufficientStack before the logic; FullStack on a
push at 1,024 items), the same results. Stack items stay py-evm's int-or-bytes (both decode the same).

Every other opcode is adapted: a plain `_FastOpcode` gets its static gas inlined and its logic called;
anything else (CALL*/CREATE* classes, MegaETH wrappers, InvalidOpcode) is called as py-evm calls it.
`fast_table` checks that each replaced entry is the py-evm logic it reimplements, so a table edit
upstream (or a MegaETH wrapper) is never silently bypassed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth.exceptions import FullStack, InsufficientStack, InvalidJumpDestination, OutOfGas
from eth.vm.logic import arithmetic, comparison, duplication, flow, memory, stack, swap
from eth.vm.opcode import _FastOpcode

FastOp = Callable[[Any, list[Any], Any], None]
UINT_256_MAX = 2**256 - 1
JUMPDEST, PUSH1, PUSH32 = 0x5B, 0x60, 0x7F


def _out_of_gas(needed: int, meter: Any, mnemonic: str) -> OutOfGas:
    return OutOfGas(f"Out of gas: Needed {needed} - Remaining {meter.gas_remaining} - Reason: {mnemonic}")


# --- code analysis, once per code ---

_ANALYSIS: dict[bytes, tuple[frozenset[int], list[int]]] = {}
_ANALYSIS_MAX_BYTES = 4 << 20  # of code analysed before the cache starts over (≈ 8 B of list per code byte)
_analysed_bytes = 0


def analyse(code: bytes) -> tuple[frozenset[int], list[int]]:
    """(JUMPDEST offsets, PUSH values by offset) of `code`. A jump may land only on a JUMPDEST instruction,
    not on PUSH data (py-evm `jump`: a JUMPDEST byte at a valid instruction position); a PUSH's value is
    its data bytes, zero-padded on the right past the end of the code (py-evm `push_XX`)."""
    global _analysed_bytes
    found = _ANALYSIS.get(code)
    if found is None:
        dests, pushes, i, n = [], [0] * len(code), 0, len(code)
        while i < n:
            op = code[i]
            if op == JUMPDEST:
                dests.append(i)
            elif PUSH1 <= op <= PUSH32:
                size = op - PUSH1 + 1
                pushes[i] = int.from_bytes(code[i + 1:i + 1 + size].ljust(size, b"\x00"), "big")
                i += size
            i += 1
        if _analysed_bytes + n > _ANALYSIS_MAX_BYTES:
            _ANALYSIS.clear()
            _analysed_bytes = 0
        _analysed_bytes += n
        found = _ANALYSIS[code] = (frozenset(dests), pushes)
    return found


# --- hand-written entries ---

def _push(size: int, cost: int) -> FastOp:
    def push(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "PUSH")
        m.gas_remaining -= cost
        if len(s) > 1023:
            raise FullStack("Stack limit reached")
        code = c.code
        pc = code.program_counter
        code.program_counter = pc + size
        s.append(c._pushes[pc - 1])
    return push


def _push0(cost: int) -> FastOp:
    def push0(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "PUSH0")
        m.gas_remaining -= cost
        if len(s) > 1023:
            raise FullStack("Stack limit reached")
        s.append(0)
    return push0


def _dup(position: int, cost: int) -> FastOp:
    def dup(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "DUP")
        m.gas_remaining -= cost
        if len(s) > 1023:
            raise FullStack("Stack limit reached")
        if len(s) < position:
            raise InsufficientStack(f"Insufficient stack items for DUP{position}")
        s.append(s[-position])
    return dup


def _swap(position: int, cost: int) -> FastOp:
    idx = -position - 1

    def swap_(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "SWAP")
        m.gas_remaining -= cost
        if len(s) <= position:
            raise InsufficientStack(f"Insufficient stack items for SWAP{position}")
        s[-1], s[idx] = s[idx], s[-1]
    return swap_


def _pop(cost: int) -> FastOp:
    def pop(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "POP")
        m.gas_remaining -= cost
        if not s:
            raise InsufficientStack("Wanted 1 stack item, had none")
        s.pop()
    return pop


def _jumpdest(cost: int) -> FastOp:
    def jumpdest(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "JUMPDEST")
        m.gas_remaining -= cost
    return jumpdest


def _jump(cost: int) -> FastOp:
    def jump(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "JUMP")
        m.gas_remaining -= cost
        if not s:
            raise InsufficientStack("Wanted 1 stack item, had none")
        dest = s.pop()
        if dest.__class__ is not int:
            dest = int.from_bytes(dest, "big")
        c.code.program_counter = dest
        if dest not in c._jumpdests:
            raise InvalidJumpDestination("Invalid Jump Destination")
    return jump


def _jumpi(cost: int) -> FastOp:
    def jumpi(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "JUMPI")
        m.gas_remaining -= cost
        if len(s) < 2:
            raise InsufficientStack(f"Wanted 2 stack items, only had {len(s)}")
        dest = s.pop()
        cond = s.pop()
        if cond if cond.__class__ is int else any(cond):
            if dest.__class__ is not int:
                dest = int.from_bytes(dest, "big")
            c.code.program_counter = dest
            if dest not in c._jumpdests:
                raise InvalidJumpDestination("Invalid Jump Destination")
    return jumpi


def _mstore(cost: int) -> FastOp:
    def mstore(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "MSTORE")
        m.gas_remaining -= cost
        if not s:
            raise InsufficientStack("Wanted 1 stack item, had none")
        start = s.pop()
        if start.__class__ is not int:
            start = int.from_bytes(start, "big")
        if not s:
            raise InsufficientStack("Wanted 1 stack item, had none")
        value = s.pop()
        value = value.to_bytes(32, "big") if value.__class__ is int else value.rjust(32, b"\x00")
        mem = c._memory
        if start + 32 > len(mem._bytes):
            c.extend_memory(start, 32)
        mem._bytes[start:start + 32] = value
    return mstore


def _mload(cost: int) -> FastOp:
    def mload(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, "MLOAD")
        m.gas_remaining -= cost
        if not s:
            raise InsufficientStack("Wanted 1 stack item, had none")
        start = s[-1]
        if start.__class__ is not int:
            start = int.from_bytes(start, "big")
        mem = c._memory
        if start + 32 > len(mem._bytes):
            s.pop()
            c.extend_memory(start, 32)
            s.append(0)
        s[-1] = int.from_bytes(mem._bytes[start:start + 32], "big")
    return mload


# Two-operand opcodes: `a` is the top item, `b` the second (py-evm `stack_pop_ints(2)` order).
_BINARY: dict[Callable[..., Any], str] = {
    arithmetic.add: "(a + b) & M",
    arithmetic.sub: "(a - b) & M",
    arithmetic.mul: "(a * b) & M",
    arithmetic.div: "0 if b == 0 else (a // b) & M",
    arithmetic.mod: "0 if b == 0 else a % b",
    arithmetic.shl: "0 if a >= 256 else (b << a) & M",
    arithmetic.shr: "0 if a >= 256 else (b >> a) & M",
    comparison.lt: "1 if a < b else 0",
    comparison.gt: "1 if a > b else 0",
    comparison.slt: "1 if (a - (1 << 256) if a >> 255 else a) < (b - (1 << 256) if b >> 255 else b) else 0",
    comparison.sgt: "1 if (a - (1 << 256) if a >> 255 else a) > (b - (1 << 256) if b >> 255 else b) else 0",
    comparison.eq: "1 if a == b else 0",
    comparison.and_op: "a & b",
    comparison.or_op: "a | b",
    comparison.xor: "a ^ b",
    comparison.byte_op: "0 if a >= 32 else (b >> (8 * (31 - a))) & 0xFF",
}
_UNARY: dict[Callable[..., Any], str] = {
    comparison.iszero: "1 if a == 0 else 0",
    comparison.not_op: "M - a",
}
_TEMPLATE_2 = """
def op(c, s, m):
    if m.gas_remaining < {cost}:
        raise out_of_gas({cost}, m, {name!r})
    m.gas_remaining -= {cost}
    if len(s) < 2:
        raise InsufficientStack(f"Wanted 2 stack items, only had {{len(s)}}")
    a = s.pop()
    b = s[-1]
    if a.__class__ is not int:
        a = int.from_bytes(a, "big")
    if b.__class__ is not int:
        b = int.from_bytes(b, "big")
    s[-1] = {expr}
"""
_TEMPLATE_1 = """
def op(c, s, m):
    if m.gas_remaining < {cost}:
        raise out_of_gas({cost}, m, {name!r})
    m.gas_remaining -= {cost}
    if not s:
        raise InsufficientStack("Wanted 1 stack item, had none")
    a = s[-1]
    if a.__class__ is not int:
        a = int.from_bytes(a, "big")
    s[-1] = {expr}
"""


def _compiled(template: str, name: str, cost: int, expr: str) -> FastOp:
    scope: dict[str, Any] = {"M": UINT_256_MAX, "InsufficientStack": InsufficientStack, "out_of_gas": _out_of_gas}
    exec(template.format(cost=cost, name=name, expr=expr), scope)  # noqa: S102 — fixed templates above
    fn: FastOp = scope["op"]
    fn.__name__ = fn.__qualname__ = f"fast_{name.lower()}"
    return fn


def _hand_written(logic: Callable[..., Any], mnemonic: str, cost: int) -> FastOp | None:
    """The single-call equivalent of py-evm logic `logic`, or None."""
    if logic in _BINARY:
        return _compiled(_TEMPLATE_2, mnemonic, cost, _BINARY[logic])
    if logic in _UNARY:
        return _compiled(_TEMPLATE_1, mnemonic, cost, _UNARY[logic])
    for n in range(1, 33):
        if logic is getattr(stack, f"push{n}"):
            return _push(n, cost)
    for n in range(1, 17):
        if logic is getattr(duplication, f"dup{n}"):
            return _dup(n, cost)
        if logic is getattr(swap, f"swap{n}"):
            return _swap(n, cost)
    simple = {stack.push0: _push0, stack.pop: _pop, flow.jumpdest: _jumpdest, flow.jump: _jump,
              flow.jumpi: _jumpi, memory.mstore: _mstore, memory.mload: _mload}
    make = simple.get(logic)
    return None if make is None else make(cost)


def _static_gas(op: _FastOpcode) -> FastOp:
    cost, logic, mnemonic = op.gas_cost, op.logic_fn, op.mnemonic
    if cost == 0:
        def free(c: Any, s: list[Any], m: Any) -> None:
            logic(c)
        return free

    def static(c: Any, s: list[Any], m: Any) -> None:
        if m.gas_remaining < cost:
            raise _out_of_gas(cost, m, mnemonic)
        m.gas_remaining -= cost
        logic(c)
    return static


def _called(op: Callable[..., None]) -> FastOp:
    def called(c: Any, s: list[Any], m: Any) -> None:
        op(computation=c)
    return called


def fast_entry(op: Any) -> FastOp:
    """The loop entry for one opcode-table entry."""
    if type(op) is _FastOpcode:
        return _hand_written(op.logic_fn, op.mnemonic, op.gas_cost) or _static_gas(op)
    return _called(op)


def fast_table(table: dict[int, Any], invalid: Callable[[int], Any]) -> list[FastOp]:
    """All 256 loop entries of an opcode table; bytes without an entry run `invalid(opcode)`."""
    return [fast_entry(table[b]) if b in table else _called(invalid(b)) for b in range(256)]
