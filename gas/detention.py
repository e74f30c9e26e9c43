"""Gas detention: volatile-data access lowers the tx compute-gas limit (§6).

State the executor keeps: a per-tx `VolatileTracker` (reset at every tx start, including the
pre-block system calls) and a `compute_limit` that is *block-scoped* — initialised with
`block_start_compute_limit` before the pre-block system calls and passed through
`tx_start_compute_limit` at every tx start, which resets it only from Rex1 on (§6.4).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import IntFlag

from gas.schedule import SCHEDULE
from gas.spec import Spec
from gas.system import MEGA_SYSTEM_ADDRESS, ORACLE_ADDRESS


class VolatileAccess(IntFlag):
    """Kinds of volatile data (mega-evm `access/volatile.rs` bit layout)."""

    BLOCK_NUMBER = 1 << 0
    TIMESTAMP = 1 << 1
    COINBASE = 1 << 2
    DIFFICULTY = 1 << 3
    GAS_LIMIT = 1 << 4
    BASE_FEE = 1 << 5
    PREV_RANDAO = 1 << 6
    BLOCK_HASH = 1 << 7
    BLOB_BASE_FEE = 1 << 8
    BLOB_HASH = 1 << 9
    BENEFICIARY_BALANCE = 1 << 10
    ORACLE = 1 << 11


BLOCK_ENV_OPCODES: dict[int, VolatileAccess] = {
    0x40: VolatileAccess.BLOCK_HASH,
    0x41: VolatileAccess.COINBASE,
    0x42: VolatileAccess.TIMESTAMP,
    0x43: VolatileAccess.BLOCK_NUMBER,
    0x44: VolatileAccess.PREV_RANDAO,  # DIFFICULTY reads prevrandao after the Merge
    0x45: VolatileAccess.GAS_LIMIT,
    0x48: VolatileAccess.BASE_FEE,
    0x49: VolatileAccess.BLOB_HASH,
    0x4A: VolatileAccess.BLOB_BASE_FEE,
}
"""Opcodes that always mark block-environment access, after they execute (§6.1)."""

DETENTION_OPCODES: frozenset[int] = frozenset(BLOCK_ENV_OPCODES) | {0x31, 0x3B, 0x3C, 0x3F}
"""Opcodes after which the tracker's cap is applied to the compute limit: the block-env opcodes and
BALANCE, EXTCODESIZE, EXTCODECOPY, EXTCODEHASH (§6.1)."""


@dataclass(frozen=True, slots=True)
class VolatileTracker:
    """Volatile data accessed in the current tx and the lowest cap seen (None = no access yet)."""

    accessed: VolatileAccess = VolatileAccess(0)
    cap: int | None = None


@functools.cache  # trackers are immutable and a block marks the same few accesses thousands of times
def mark_access(spec: Spec, tracker: VolatileTracker, access: VolatileAccess) -> VolatileTracker:
    """Record an access; the cap becomes the minimum of 1,000,000 for the oracle and 20,000,000 for
    block env / beneficiary data, whatever the order (§6.1; mega-evm `access/tracker.rs`)."""
    s = SCHEDULE[spec]
    cap = s.oracle_access_compute_cap if access & VolatileAccess.ORACLE else s.block_env_access_compute_cap
    return VolatileTracker(tracker.accessed | access, cap if tracker.cap is None else min(tracker.cap, cap))


def tx_start_tracker(spec: Spec, sender: bytes, to: bytes | None, beneficiary: bytes) -> VolatileTracker:
    """Fresh tracker at tx start; a sender or call recipient equal to the block beneficiary marks
    BENEFICIARY_BALANCE (applied to the limit only at the next detention point) (§3 step 2)."""
    tracker = VolatileTracker()
    for address in (sender, to):
        if address == beneficiary:
            tracker = mark_access(spec, tracker, VolatileAccess.BENEFICIARY_BALANCE)
    return tracker


def is_beneficiary_access(address: bytes, beneficiary: bytes) -> bool:
    """Any host account load of the beneficiary marks BENEFICIARY_BALANCE: BALANCE, EXTCODE*, a
    CALL*/DELEGATECALL target load, SELFBALANCE while executing as the beneficiary (§6.1)."""
    return address == beneficiary


def is_oracle_access(spec: Spec, frame_target: bytes, frame_caller: bytes) -> bool:
    """At call-frame init (MiniRex+): the frame's storage context is the oracle and its immediate
    caller is not `MEGA_SYSTEM_ADDRESS`. So CALL/STATICCALL to the oracle and a tx to it trigger,
    DELEGATECALL/CALLCODE to it do not; the cap applies right away (§3.2, §6.1, §6.3)."""
    return spec >= Spec.MINI_REX and frame_target == ORACLE_ADDRESS and frame_caller != MEGA_SYSTEM_ADDRESS


def apply_detention(tracker: VolatileTracker, compute_limit: int) -> int:
    """The compute limit after a detention point (a `DETENTION_OPCODES` opcode, even one that read
    nothing volatile itself, or an oracle frame init): `min(limit, tracker cap)`. The cap bounds the
    tx's *total* compute gas, counted from the intrinsic gas (§6.2)."""
    return compute_limit if tracker.cap is None else min(compute_limit, tracker.cap)


def block_start_compute_limit(spec: Spec) -> int:
    """The compute limit at block start, before the EIP-2935/4788 system calls (§6.4)."""
    return SCHEDULE[spec].tx_limits.compute_gas


def tx_start_compute_limit(spec: Spec, carried_limit: int) -> int:
    """The compute limit a tx starts with: the spec's limit from Rex1 on; before Rex1 whatever the
    previous tx — or the pre-block system call, whose NUMBER/TIMESTAMP already cap it at 20,000,000 —
    left behind (the Rex carry-over bug, §6.4)."""
    s = SCHEDULE[spec]
    return s.tx_limits.compute_gas if s.reset_tx_limits_each_tx else carried_limit
