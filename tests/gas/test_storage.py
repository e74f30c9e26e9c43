"""SALT-aware storage gas and code size limits (mega-evm.md §5.1–5.2, §9.1)."""

from __future__ import annotations

from collections.abc import Callable

from gas.schedule import CALL, CALLCODE, DELEGATECALL, STATICCALL, Gas
from gas.spec import Spec
from gas.storage import (
    bucket_multiplier,
    call_new_account_storage_gas,
    code_deposit_storage_gas,
    code_size_allowed,
    create_storage_gas,
    initcode_size_allowed,
    log_storage_gas,
    scaled_storage_gas,
    sstore_storage_gas,
)


def capacity(value: int) -> Callable[[], int]:
    return lambda: value


def no_lookup() -> int:
    raise AssertionError("bucket capacity looked up although no charge is due")


def test_bucket_multiplier() -> None:
    assert bucket_multiplier(256) == 1
    assert bucket_multiplier(511) == 1
    assert bucket_multiplier(1024) == 4


def test_scaled_storage_gas() -> None:
    assert scaled_storage_gas(Spec.REX, 20_000, capacity(256)) == Gas()
    assert scaled_storage_gas(Spec.REX, 20_000, capacity(768)) == Gas(storage=40_000)
    assert scaled_storage_gas(Spec.MINI_REX, 2_000_000, capacity(768)) == Gas(storage=6_000_000)


def test_sstore_storage_gas() -> None:
    """test_sstore_minimum_bucket_zero_gas / _multiplier_scaling: 20,000·(m−1) for 0 → 0 → non-0."""
    assert sstore_storage_gas(Spec.REX, 0, 0, 0x42, capacity(256)) == Gas()
    for k in (2, 3, 8):
        assert sstore_storage_gas(Spec.REX, 0, 0, 0x42, capacity(256 * k)) == Gas(storage=20_000 * (k - 1))
    assert sstore_storage_gas(Spec.MINI_REX, 0, 0, 1, capacity(256)) == Gas(storage=2_000_000)
    assert sstore_storage_gas(Spec.REX, 0, 5, 7, no_lookup) == Gas()  # present != 0
    assert sstore_storage_gas(Spec.REX, 5, 5, 7, no_lookup) == Gas()  # original != 0
    assert sstore_storage_gas(Spec.REX, 0, 0, 0, no_lookup) == Gas()  # no-op write
    assert sstore_storage_gas(Spec.EQUIVALENCE, 0, 0, 1, no_lookup) == Gas()


def test_call_new_account_storage_gas() -> None:
    """test_new_account_with_multiplier: 25,000·(m−1) for a value call to an empty account."""
    assert call_new_account_storage_gas(Spec.REX, CALL, 1, True, capacity(256)) == Gas()
    assert call_new_account_storage_gas(Spec.REX, CALL, 1, True, capacity(512)) == Gas(storage=25_000)
    assert call_new_account_storage_gas(Spec.REX, CALLCODE, 1, True, capacity(512)) == Gas(storage=25_000)
    # MiniRex charges CALL only
    assert call_new_account_storage_gas(Spec.MINI_REX, CALLCODE, 1, True, no_lookup) == Gas()
    assert call_new_account_storage_gas(Spec.MINI_REX, CALL, 1, True, capacity(256)) == Gas(storage=2_000_000)
    for opcode in (DELEGATECALL, STATICCALL):
        assert call_new_account_storage_gas(Spec.REX, opcode, 1, True, no_lookup) == Gas()
    assert call_new_account_storage_gas(Spec.REX, CALL, 0, True, no_lookup) == Gas()
    assert call_new_account_storage_gas(Spec.REX, CALL, 1, False, no_lookup) == Gas()


def test_create_storage_gas() -> None:
    """test_contract_creation_with_multiplier / combined: 32,000·(m−1); m = 5 -> 128,000."""
    assert create_storage_gas(Spec.REX, capacity(256)) == Gas()
    assert create_storage_gas(Spec.REX, capacity(5 * 256)) == Gas(storage=128_000)
    assert create_storage_gas(Spec.MINI_REX, capacity(256)) == Gas(storage=2_000_000)
    assert create_storage_gas(Spec.EQUIVALENCE, no_lookup) == Gas()
    # §9.1 combined create + SSTORE at m = 5: 32,000·4 + 20,000·4 = 208,000
    m5 = capacity(5 * 256)
    total = create_storage_gas(Spec.REX, m5) + sstore_storage_gas(Spec.REX, 0, 0, 0x42, m5)
    assert total.storage == 208_000


def test_code_deposit_storage_gas() -> None:
    """1142/16: 62-byte runtime code -> 620,000 storage gas (§9.2)."""
    assert code_deposit_storage_gas(Spec.REX, 62) == Gas(storage=620_000)
    assert code_deposit_storage_gas(Spec.EQUIVALENCE, 62) == Gas()


def test_log_storage_gas() -> None:
    """§9.2: LOG4 with 160 data bytes -> 27,800; LOG3 with 32 bytes -> 13,810."""
    assert log_storage_gas(Spec.REX, 4, 160) == Gas(storage=27_800)
    assert log_storage_gas(Spec.REX, 3, 32) == Gas(storage=13_810)
    assert log_storage_gas(Spec.EQUIVALENCE, 4, 160) == Gas()


def test_code_size_allowed() -> None:
    assert code_size_allowed(Spec.REX, 524_288)
    assert not code_size_allowed(Spec.REX, 524_289)
    assert code_size_allowed(Spec.EQUIVALENCE, 24_576)
    assert not code_size_allowed(Spec.EQUIVALENCE, 24_577)


def test_initcode_size_allowed() -> None:
    assert initcode_size_allowed(Spec.MINI_REX, 548_864)
    assert not initcode_size_allowed(Spec.MINI_REX, 548_865)
    assert not initcode_size_allowed(Spec.EQUIVALENCE, 49_153)
