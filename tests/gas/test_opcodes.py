"""Compute metering, 98/100 forwarding, SELFDESTRUCT, oracle SLOAD, KZG (mega-evm.md §4.1, §5.2–5.3)."""

from __future__ import annotations

from gas.opcodes import (
    call_is_wrapped,
    forward_gas,
    kzg_point_evaluation_gas,
    metered_compute_gas,
    selfdestruct_allowed,
    sload_is_cold,
)
from gas.schedule import CALL, CALLCODE, CREATE, CREATE2, DELEGATECALL, STATICCALL, Gas
from gas.spec import Spec
from gas.system import ORACLE_ADDRESS

OTHER = bytes(19) + b"\x01"


def test_metered_compute_gas() -> None:
    assert metered_compute_gas(1_000, 997) == Gas(compute=3)
    # CALL forwarding 63/64 of 64,000 = 63,000 after charging 2,600 (cold access)
    assert metered_compute_gas(64_000 + 2_600, 0 + 1_000 - 1_000, 63_000) == Gas(compute=3_600)
    # value CALL: the 2,300 stipend is in the child limit but was never charged
    assert metered_compute_gas(100_000, 100_000 - 9_100 - 50_000, 50_000 + 2_300) == Gas(compute=6_800)
    assert metered_compute_gas(100, 200) == Gas()  # clamped


def test_forward_gas() -> None:
    """§5.3: cap = L − ⌊L·2/100⌋ with L = remaining after charging + forwarded."""
    remaining_before = 1_000_000
    child = remaining_before - remaining_before // 64  # "all gas" under 63/64
    parent_after = remaining_before - child
    limit, returned = forward_gas(Spec.REX, STATICCALL, child, parent_after)
    assert limit == 980_000 and returned == child - 980_000
    # value CALL keeps the stipend on top of the capped part
    limit, returned = forward_gas(Spec.REX, CALL, child + 2_300, parent_after, value=1)
    assert (limit, returned) == (982_300, child - 980_000)
    # a small request is not capped
    assert forward_gas(Spec.REX, CALL, 10_000, 990_000) == (10_000, 0)
    # CREATE: no stipend
    assert forward_gas(Spec.REX, CREATE2, child, parent_after) == (980_000, child - 980_000)


def test_forward_gas_per_spec() -> None:
    child, parent_after = 984_375, 15_625
    for opcode in (CALLCODE, DELEGATECALL, STATICCALL):
        assert forward_gas(Spec.MINI_REX, opcode, child, parent_after) == (child, 0)  # MiniRex missed these
        assert forward_gas(Spec.REX, opcode, child, parent_after)[0] == 980_000
    for opcode in (CALL, CREATE, CREATE2):
        assert forward_gas(Spec.MINI_REX, opcode, child, parent_after)[0] == 980_000
        assert forward_gas(Spec.EQUIVALENCE, opcode, child, parent_after) == (child, 0)


def test_call_is_wrapped() -> None:
    """mega-evm `instructions.rs`: MiniRex wraps CALL only; Rex and later all four CALL-family opcodes."""
    assert [call_is_wrapped(Spec.MINI_REX, op) for op in (CALL, CALLCODE, DELEGATECALL, STATICCALL)] == [
        True, False, False, False]
    for spec in (Spec.REX, Spec.REX1, Spec.REX2):
        assert all(call_is_wrapped(spec, op) for op in (CALL, CALLCODE, DELEGATECALL, STATICCALL))
    assert not call_is_wrapped(Spec.EQUIVALENCE, CALL)


def test_selfdestruct_allowed() -> None:
    assert selfdestruct_allowed(Spec.EQUIVALENCE)
    assert not selfdestruct_allowed(Spec.MINI_REX)
    assert not selfdestruct_allowed(Spec.REX)
    assert not selfdestruct_allowed(Spec.REX1)
    assert selfdestruct_allowed(Spec.REX2)


def test_sload_is_cold() -> None:
    assert sload_is_cold(Spec.REX, ORACLE_ADDRESS, warm=True)
    assert not sload_is_cold(Spec.REX, OTHER, warm=True)
    assert sload_is_cold(Spec.REX, OTHER, warm=False)
    assert not sload_is_cold(Spec.EQUIVALENCE, ORACLE_ADDRESS, warm=True)


def test_kzg_point_evaluation_gas() -> None:
    assert kzg_point_evaluation_gas(Spec.REX) == Gas(compute=100_000)
    assert kzg_point_evaluation_gas(Spec.EQUIVALENCE) == Gas(compute=50_000)
