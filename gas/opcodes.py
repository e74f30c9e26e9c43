"""Opcode-level rules: compute-gas metering, 98/100 gas forwarding, SELFDESTRUCT, oracle SLOAD,
precompile prices (§4.1, §5.2–5.3)."""

from __future__ import annotations

from gas.schedule import CALL, CALLCODE, SCHEDULE, Gas
from gas.spec import Spec
from gas.system import ORACLE_ADDRESS

CALL_STIPEND = 2_300


def metered_compute_gas(gas_before: int, gas_after: int, child_gas_limit: int = 0) -> Gas:
    """Compute gas recorded around one standard opcode (or a frame's return processing, e.g. the
    200/byte deposit): `gas_before − gas_after` minus the child frame's gas limit, each step clamped
    at 0 (§4.1). The child limit includes the 2,300 stipend that was never charged, so a value CALL
    records 2,300 less than it costs (upstream quirk, kept). MegaETH storage gas is charged outside
    this window and is not compute gas."""
    return Gas(compute=max(0, max(0, gas_before - gas_after) - child_gas_limit))


def forward_gas(
    spec: Spec, opcode: int, child_gas_limit: int, parent_remaining: int, value: int = 0
) -> tuple[int, int]:
    """98/100 forwarding (§5.3): after the standard 63/64 rule charged `child_gas_limit` (stipend
    included) to the parent, cap the forwarded part at `L − ⌊L·2/100⌋` with `L = parent_remaining +
    forwarded`. Returns `(new child gas limit, gas given back to the parent)`. Applies to CALL, CREATE,
    CREATE2 in MiniRex and to all six CALL/CREATE opcodes from Rex on; the stipend counts only for
    value-transferring CALL/CALLCODE."""
    s = SCHEDULE[spec]
    if opcode not in s.capped_forward_opcodes:
        return child_gas_limit, 0
    stipend = CALL_STIPEND if opcode in (CALL, CALLCODE) and value != 0 else 0
    forwarded = child_gas_limit - stipend
    available = parent_remaining + forwarded
    capped = min(forwarded, available - available * s.forward_retained_percent // 100)
    return capped + stipend, forwarded - capped


def call_is_wrapped(spec: Spec, opcode: int) -> bool:
    """Whether a CALL-family opcode runs mega-evm's `forward_gas_ext` wrapper (98/100 forwarding, the wrapper's
    `inspect_account_delegated(to)`, new-account storage gas): CALL from MiniRex on; CALLCODE, DELEGATECALL
    and STATICCALL from Rex on, which MiniRex runs as the standard opcode with compute metering only (§5.3;
    mega-evm `evm/instructions.rs`)."""
    return opcode in SCHEDULE[spec].capped_forward_opcodes


def selfdestruct_allowed(spec: Spec) -> bool:
    """SELFDESTRUCT is an invalid opcode (halt, all frame gas consumed) from MiniRex through Rex1;
    Rex2 re-enables it with EIP-6780 semantics (§2.1, §5.2)."""
    return SCHEDULE[spec].selfdestruct_enabled


def sload_is_cold(spec: Spec, address: bytes, warm: bool) -> bool:
    """SLOAD of the oracle `0x6342…0001` is always cold (2,100) from MiniRex on; else EIP-2929 (§5.2)."""
    return not warm or (SCHEDULE[spec].oracle_sload_always_cold and address == ORACLE_ADDRESS)


def kzg_point_evaluation_gas(spec: Spec) -> Gas:
    """KZG point evaluation (0x0a): a flat 100,000 compute gas from MiniRex on, 50,000 before (§5.2)."""
    return Gas(compute=SCHEDULE[spec].kzg_point_evaluation_gas)
