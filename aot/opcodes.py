"""The legacy EVM opcode table (Cancun; Prague adds no legacy opcodes) as the AOT compiler sees it, per
native flavour (`ops_for`): "cancun" (Ethereum and OP/Isthmus) and "rex" (MegaETH MiniRex…Rex2).

`gas` is the static base cost charged at block entry. Host opcodes (`host=True`) are executed by the
host (py-evm's own opcode logic), which charges their whole cost itself, so they add nothing to a
block's static gas. Environment opcodes (ENV_OPS) and SLOAD/SSTORE run natively: environment values
are fetched from the host once per frame, storage goes through a per-frame slot cache in C that
charges the dynamic EIP-2929/2200/3529 costs itself (runtime.h).
"""

from __future__ import annotations

from typing import NamedTuple


class OpInfo(NamedTuple):
    """One opcode: mnemonic, stack items popped/pushed, static gas, and whether the host executes it."""

    name: str
    stack_in: int
    stack_out: int
    gas: int
    host: bool = False


def _h(name: str, stack_in: int, stack_out: int) -> OpInfo:
    return OpInfo(name, stack_in, stack_out, 0, True)


OPS: dict[int, OpInfo] = {
    0x00: OpInfo("STOP", 0, 0, 0),
    0x01: OpInfo("ADD", 2, 1, 3),
    0x02: OpInfo("MUL", 2, 1, 5),
    0x03: OpInfo("SUB", 2, 1, 3),
    0x04: OpInfo("DIV", 2, 1, 5),
    0x05: OpInfo("SDIV", 2, 1, 5),
    0x06: OpInfo("MOD", 2, 1, 5),
    0x07: OpInfo("SMOD", 2, 1, 5),
    0x08: OpInfo("ADDMOD", 3, 1, 8),
    0x09: OpInfo("MULMOD", 3, 1, 8),
    0x0A: OpInfo("EXP", 2, 1, 10),
    0x0B: OpInfo("SIGNEXTEND", 2, 1, 5),
    0x10: OpInfo("LT", 2, 1, 3),
    0x11: OpInfo("GT", 2, 1, 3),
    0x12: OpInfo("SLT", 2, 1, 3),
    0x13: OpInfo("SGT", 2, 1, 3),
    0x14: OpInfo("EQ", 2, 1, 3),
    0x15: OpInfo("ISZERO", 1, 1, 3),
    0x16: OpInfo("AND", 2, 1, 3),
    0x17: OpInfo("OR", 2, 1, 3),
    0x18: OpInfo("XOR", 2, 1, 3),
    0x19: OpInfo("NOT", 1, 1, 3),
    0x1A: OpInfo("BYTE", 2, 1, 3),
    0x1B: OpInfo("SHL", 2, 1, 3),
    0x1C: OpInfo("SHR", 2, 1, 3),
    0x1D: OpInfo("SAR", 2, 1, 3),
    0x20: OpInfo("KECCAK256", 2, 1, 30),
    0x30: OpInfo("ADDRESS", 0, 1, 2),
    0x31: _h("BALANCE", 1, 1),
    0x32: OpInfo("ORIGIN", 0, 1, 2),
    0x33: OpInfo("CALLER", 0, 1, 2),
    0x34: OpInfo("CALLVALUE", 0, 1, 2),
    0x35: OpInfo("CALLDATALOAD", 1, 1, 3),
    0x36: OpInfo("CALLDATASIZE", 0, 1, 2),
    0x37: OpInfo("CALLDATACOPY", 3, 0, 3),
    0x38: OpInfo("CODESIZE", 0, 1, 2),
    0x39: OpInfo("CODECOPY", 3, 0, 3),
    0x3A: OpInfo("GASPRICE", 0, 1, 2),
    0x3B: _h("EXTCODESIZE", 1, 1),
    0x3C: _h("EXTCODECOPY", 4, 0),
    0x3D: OpInfo("RETURNDATASIZE", 0, 1, 2),
    0x3E: _h("RETURNDATACOPY", 3, 0),
    0x3F: _h("EXTCODEHASH", 1, 1),
    0x40: _h("BLOCKHASH", 1, 1),
    0x41: OpInfo("COINBASE", 0, 1, 2),
    0x42: OpInfo("TIMESTAMP", 0, 1, 2),
    0x43: OpInfo("NUMBER", 0, 1, 2),
    0x44: OpInfo("PREVRANDAO", 0, 1, 2),
    0x45: OpInfo("GASLIMIT", 0, 1, 2),
    0x46: OpInfo("CHAINID", 0, 1, 2),
    0x47: OpInfo("SELFBALANCE", 0, 1, 5),
    0x48: OpInfo("BASEFEE", 0, 1, 2),
    0x49: _h("BLOBHASH", 1, 1),
    0x4A: OpInfo("BLOBBASEFEE", 0, 1, 2),
    0x50: OpInfo("POP", 1, 0, 2),
    0x51: OpInfo("MLOAD", 1, 1, 3),
    0x52: OpInfo("MSTORE", 2, 0, 3),
    0x53: OpInfo("MSTORE8", 2, 0, 3),
    0x54: OpInfo("SLOAD", 1, 1, 0),
    0x55: OpInfo("SSTORE", 2, 0, 0),
    0x56: OpInfo("JUMP", 1, 0, 8),
    0x57: OpInfo("JUMPI", 2, 0, 10),
    0x58: OpInfo("PC", 0, 1, 2),
    0x59: OpInfo("MSIZE", 0, 1, 2),
    0x5A: OpInfo("GAS", 0, 1, 2),
    0x5B: OpInfo("JUMPDEST", 0, 0, 1),
    0x5C: _h("TLOAD", 1, 1),
    0x5D: _h("TSTORE", 2, 0),
    0x5E: OpInfo("MCOPY", 3, 0, 3),
    0x5F: OpInfo("PUSH0", 0, 1, 2),
    **{0x60 + i: OpInfo(f"PUSH{i + 1}", 0, 1, 3) for i in range(32)},
    **{0x80 + i: OpInfo(f"DUP{i + 1}", i + 1, i + 2, 3) for i in range(16)},
    **{0x90 + i: OpInfo(f"SWAP{i + 1}", i + 2, i + 2, 3) for i in range(16)},
    **{0xA0 + i: _h(f"LOG{i}", i + 2, 0) for i in range(5)},
    0xF0: _h("CREATE", 3, 1),
    0xF1: _h("CALL", 7, 1),
    0xF2: _h("CALLCODE", 7, 1),
    0xF3: OpInfo("RETURN", 2, 0, 0),
    0xF4: _h("DELEGATECALL", 6, 1),
    0xF5: _h("CREATE2", 4, 1),
    0xFA: _h("STATICCALL", 6, 1),
    0xFD: OpInfo("REVERT", 2, 0, 0),
    0xFF: _h("SELFDESTRUCT", 1, 0),
}

ARITY = bytes(OPS[op].stack_in if op in OPS else 0 for op in range(256))  # stack arguments of each opcode
ENV_OPS = (0x30, 0x32, 0x33, 0x34, 0x3A, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x4A)
ENV_INDEX = {op: i for i, op in enumerate(ENV_OPS)}
SELFBALANCE, SLOAD, SSTORE = 0x47, 0x54, 0x55
CALLS = frozenset({0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA})  # may run code that touches this account's storage

JUMP, JUMPI, JUMPDEST, PUSH0, PUSH1, PUSH32 = 0x56, 0x57, 0x5B, 0x5F, 0x60, 0x7F
LOG0, LOG4 = 0xA0, 0xA4
TERMINATORS = frozenset({0x00, 0x56, 0x57, 0xF3, 0xFD, 0xFF})
MAX_HOST_ARGS = 7


# MegaETH (spec/mega-evm.md §5.2, §6.1) replaces these opcodes with wrappers (storage gas, volatile-data
# detention); under "rex" the host runs the wrapper, so they add no static gas and have no C version.
# SLOAD's one Rex rule (the oracle's slots are always cold) is a flag the host puts on a slot it loads
# (AOT_SLOT_COLD, runtime.h), so SLOAD stays native. SSTORE is native too where it owes no storage gas and
# crosses no limit; the rest of its cases it hands to the host's wrapper itself (aot_sstore, f->rex_sstore).
# LOG likewise: native where its data size stays within the room the host gives, and it halts nothing
# (aot_log, f->rex_log); its storage gas (static per topic and byte) is charged there.
REX_HOST_OPS = frozenset({0x41, 0x42, 0x43, 0x44, 0x45, 0x47, 0x48, 0x4A})
FLAVOURS = ("cancun", "rex")


def ops_for(flavour: str) -> dict[int, OpInfo]:
    """The opcode table native code of `flavour` is generated from."""
    if flavour == "cancun":
        return OPS
    if flavour == "rex":
        return _REX_OPS
    raise ValueError(f"unknown native flavour {flavour!r}; one of {FLAVOURS}")


_REX_OPS = {**OPS, **{op: _h(OPS[op].name, OPS[op].stack_in, OPS[op].stack_out) for op in REX_HOST_OPS},
            **{op: OpInfo(OPS[op].name, OPS[op].stack_in, 0, 0) for op in range(LOG0, LOG4 + 1)}}


def push_size(op: int) -> int:
    """Immediate bytes following `op` (0 for non-PUSH opcodes)."""
    return op - PUSH0 if PUSH1 <= op <= PUSH32 else 0
