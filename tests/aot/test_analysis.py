"""Bytecode analysis: decoding, JUMPDESTs, blocks, static gas and stack summaries, reachability."""

from __future__ import annotations

from eth.vm.forks.cancun.computation import CancunComputation

from aot.analysis import analyse, decode
from aot.opcodes import OPS


def test_static_gas_matches_py_evm_cancun() -> None:
    for op, info in OPS.items():
        if not info.host:
            assert CancunComputation.opcodes[op].gas_cost == info.gas, info.name


def test_jumpdest_inside_push_data_is_not_a_destination() -> None:
    prog = analyse(bytes.fromhex("615b5b5b00"))  # PUSH2 0x5b5b; JUMPDEST; STOP
    assert prog.jumpdests == {3}
    assert [i.op for i in decode(prog.code)] == [0x61, 0x5B, 0x00]


def test_truncated_push_is_zero_padded() -> None:
    assert decode(bytes.fromhex("62ab"))[0].imm == 0xAB0000


def test_block_summary() -> None:
    # PUSH1 1 PUSH1 2 ADD DUP1 POP | JUMPDEST PUSH1 0 JUMP | INVALID
    prog = analyse(bytes.fromhex("600160020180505b600056fe"))
    b0, b1 = prog.blocks[0], prog.blocks[7]
    assert (b0.gas, b0.stack_req, b0.stack_growth, b0.stack_net, b0.next_pc) == (3 + 3 + 3 + 3 + 2, 0, 2, 1, 7)
    assert (b1.gas, b1.target, b1.dynamic_jump) == (1 + 3 + 8, 0, False)
    assert prog.blocks[11].invalid and 11 not in prog.reachable
    assert prog.heights == {0: 0, 7: 1}


def test_dynamic_jump_reaches_every_jumpdest_and_drops_static_heights() -> None:
    # PUSH1 4 CALLDATALOAD JUMP | JUMPDEST STOP | JUMPDEST STOP
    prog = analyse(bytes.fromhex("600435565b005b00"))
    assert prog.blocks[0].dynamic_jump
    assert prog.reachable == [0, 4, 6] and prog.heights is None


def test_undefined_opcode_ends_block() -> None:
    prog = analyse(bytes.fromhex("6001ef6002"))
    assert prog.blocks[0].invalid and [i.op for i in prog.blocks[0].instrs] == [0x60]


def test_register_mode_only_for_shallow_stacks() -> None:
    """A frame in register mode holds its deepest stack in C locals, and calls recurse through the host on the
    C stack: a deep program runs threaded, so that 1,024 nested frames cannot overflow it."""
    from aot.codegen import REGISTER_MODE_MAX_SLOTS, emit_parts

    def pushes(n: int) -> bytes:
        return b"\x60\x01" * n + b"\x50" * n + b"\x00"  # PUSH1 1 × n, POP × n, STOP

    shallow, deep = emit_parts(analyse(pushes(REGISTER_MODE_MAX_SLOTS)), "c"), \
        emit_parts(analyse(pushes(REGISTER_MODE_MAX_SLOTS + 1)), "c")
    assert not shallow.bodies and f"s{REGISTER_MODE_MAX_SLOTS - 1} = 0" in "\n".join(shallow.shared)
    assert deep.bodies and "s0 = 0" not in "\n".join(deep.shared + [x for b in deep.bodies for x in b])
