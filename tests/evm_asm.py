"""A tiny EVM assembler for test contracts: opcode names, PUSH of ints/bytes, and labels."""

from __future__ import annotations

OPCODES = {
    "STOP": 0x00, "ADD": 0x01, "EQ": 0x14, "ISZERO": 0x15, "CALLDATALOAD": 0x35, "CALLDATASIZE": 0x36,
    "CODECOPY": 0x39, "MSTORE": 0x52, "SLOAD": 0x54, "SSTORE": 0x55, "JUMP": 0x56, "JUMPI": 0x57,
    "JUMPDEST": 0x5B, "DUP1": 0x80, "LOG1": 0xA1, "RETURN": 0xF3, "REVERT": 0xFD, "CALLER": 0x33,
    "ADDRESS": 0x30, "GAS": 0x5A, "CALL": 0xF1, "POP": 0x50, "SHL": 0x1B, "DELEGATECALL": 0xF4, "LOG0": 0xA0,
    "LOG2": 0xA2, "LOG3": 0xA3, "LOG4": 0xA4,
    "STATICCALL": 0xFA, "CREATE2": 0xF5, "CALLCODE": 0xF2, "CREATE": 0xF0, "SELFDESTRUCT": 0xFF,
}


def assemble(*items: object) -> bytes:
    """Items: opcode names, ("PUSH", int|bytes), ("LABEL", name) = a JUMPDEST, ("PUSHLABEL", name) = PUSH2 of it."""
    def size(item: object) -> int:
        if isinstance(item, str):
            return 1
        kind, arg = item  # type: ignore[misc]
        if kind == "LABEL":
            return 1
        if kind == "PUSHLABEL":
            return 3
        raw = arg if isinstance(arg, bytes) else arg.to_bytes(max(1, (arg.bit_length() + 7) // 8), "big")
        return 1 + len(raw)

    labels, pc = {}, 0
    for item in items:
        if isinstance(item, tuple) and item[0] == "LABEL":
            labels[item[1]] = pc
        pc += size(item)
    out = bytearray()
    for item in items:
        if isinstance(item, str):
            out.append(OPCODES[item])
            continue
        kind, arg = item  # type: ignore[misc]
        if kind == "LABEL":
            out.append(OPCODES["JUMPDEST"])
        elif kind == "PUSHLABEL":
            out += bytes([0x61]) + labels[arg].to_bytes(2, "big")
        else:
            raw = arg if isinstance(arg, bytes) else arg.to_bytes(max(1, (arg.bit_length() + 7) // 8), "big")
            out += bytes([0x5F + len(raw)]) + raw
    return bytes(out)


def deploying(runtime: bytes) -> bytes:
    """Initcode that deploys `runtime` (CODECOPY of the bytes after it, then RETURN)."""
    def prefix(offset: int) -> bytes:
        n = len(runtime).to_bytes(2, "big")
        return assemble(("PUSH", n), ("PUSH", offset.to_bytes(2, "big")), ("PUSH", 0), "CODECOPY",
                        ("PUSH", n), ("PUSH", 0), "RETURN")
    return prefix(len(prefix(0))) + runtime
