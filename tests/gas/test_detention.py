"""Gas detention after volatile reads, Rex vs Rex1 carry-over (mega-evm.md §6)."""

from __future__ import annotations

from gas.detention import (
    BLOCK_ENV_OPCODES,
    DETENTION_OPCODES,
    VolatileAccess,
    VolatileTracker,
    apply_detention,
    block_start_compute_limit,
    is_beneficiary_access,
    is_oracle_access,
    mark_access,
    tx_start_compute_limit,
    tx_start_tracker,
)
from gas.limits import LimitKind, Usage, exceeded_limit, tx_limits
from gas.spec import Spec
from gas.system import MEGA_SYSTEM_ADDRESS, ORACLE_ADDRESS, TIMESTAMP_ORACLE_ADDRESS

COINBASE = bytes.fromhex("4200000000000000000000000000000000000011")
USER = bytes(19) + b"\x07"
NUMBER, TIMESTAMP, BALANCE = 0x43, 0x42, 0x31


def test_mark_access() -> None:
    tracker = mark_access(Spec.REX, VolatileTracker(), VolatileAccess.TIMESTAMP)
    assert tracker.cap == 20_000_000
    tracker = mark_access(Spec.REX, tracker, VolatileAccess.ORACLE)
    assert tracker.cap == 1_000_000
    tracker = mark_access(Spec.REX, tracker, VolatileAccess.BLOCK_NUMBER)  # order-independent minimum
    assert tracker.cap == 1_000_000
    assert tracker.accessed == VolatileAccess.TIMESTAMP | VolatileAccess.ORACLE | VolatileAccess.BLOCK_NUMBER


def test_detention_opcodes() -> None:
    assert BLOCK_ENV_OPCODES[NUMBER] is VolatileAccess.BLOCK_NUMBER
    assert BLOCK_ENV_OPCODES[TIMESTAMP] is VolatileAccess.TIMESTAMP
    assert BALANCE in DETENTION_OPCODES and BALANCE not in BLOCK_ENV_OPCODES
    assert 0x46 not in DETENTION_OPCODES  # CHAINID is not volatile


def test_tx_start_tracker() -> None:
    assert tx_start_tracker(Spec.REX, USER, USER, COINBASE) == VolatileTracker()
    tracker = tx_start_tracker(Spec.REX, USER, COINBASE, COINBASE)
    assert tracker == VolatileTracker(VolatileAccess.BENEFICIARY_BALANCE, 20_000_000)
    assert tx_start_tracker(Spec.REX, COINBASE, None, COINBASE).cap == 20_000_000


def test_is_beneficiary_access() -> None:
    assert is_beneficiary_access(COINBASE, COINBASE)
    assert not is_beneficiary_access(USER, COINBASE)


def test_is_oracle_access() -> None:
    assert is_oracle_access(Spec.REX, ORACLE_ADDRESS, TIMESTAMP_ORACLE_ADDRESS)  # 1142/16 nested read
    assert not is_oracle_access(Spec.REX, ORACLE_ADDRESS, MEGA_SYSTEM_ADDRESS)  # system tx exemption
    assert not is_oracle_access(Spec.REX, USER, USER)  # DELEGATECALL to the oracle: context is the caller
    assert not is_oracle_access(Spec.EQUIVALENCE, ORACLE_ADDRESS, USER)


def test_apply_detention() -> None:
    assert apply_detention(VolatileTracker(), 200_000_000) == 200_000_000
    tracker = mark_access(Spec.REX, VolatileTracker(), VolatileAccess.BENEFICIARY_BALANCE)
    assert apply_detention(tracker, 200_000_000) == 20_000_000
    assert apply_detention(tracker, 1_000_000) == 1_000_000
    assert apply_detention(mark_access(Spec.EQUIVALENCE, VolatileTracker(), VolatileAccess.ORACLE), 7) == 7


def test_detention_halts_on_total_compute() -> None:
    """The cap bounds the tx's total compute gas from the intrinsic gas on (§6.2)."""
    limit = apply_detention(mark_access(Spec.REX, VolatileTracker(), VolatileAccess.ORACLE), 200_000_000)
    assert exceeded_limit(Usage(), 1_000_000, tx_limits(Spec.REX, limit)) is None
    assert exceeded_limit(Usage(), 1_000_001, tx_limits(Spec.REX, limit)) is LimitKind.COMPUTE_GAS


def test_block_start_compute_limit() -> None:
    assert block_start_compute_limit(Spec.REX) == 200_000_000
    assert block_start_compute_limit(Spec.MINI_REX) == 1_000_000_000


def test_tx_start_compute_limit() -> None:
    """§6.4: the pre-block EIP-2935 call runs NUMBER, so under Rex every tx starts capped at 20M, and
    after an oracle read every later tx of the block at 1M; Rex1 resets to 200M each tx."""
    for spec, expected_first, expected_after_oracle in (
        (Spec.REX, 20_000_000, 1_000_000),
        (Spec.REX1, 200_000_000, 200_000_000),
    ):
        limit = block_start_compute_limit(spec)
        system_call = mark_access(spec, VolatileTracker(), BLOCK_ENV_OPCODES[NUMBER])
        limit = apply_detention(system_call, limit)
        limit = tx_start_compute_limit(spec, limit)
        assert limit == expected_first
        oracle_reader = mark_access(spec, VolatileTracker(), VolatileAccess.ORACLE)
        limit = tx_start_compute_limit(spec, apply_detention(oracle_reader, limit))
        assert limit == expected_after_oracle
    assert tx_start_compute_limit(Spec.MINI_REX, 20_000_000) == 20_000_000
