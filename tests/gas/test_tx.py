"""Intrinsic gas, floor, tx-level storage gas and receipt gasUsed (mega-evm.md §3.1, §4.7, §9)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gas.schedule import Gas
from gas.spec import Spec
from gas.tx import (
    InvalidTxGas,
    Outcome,
    TxGasInputs,
    calldata_tokens,
    floor_gas,
    intrinsic_gas,
    starts_out_of_gas,
    tx_gas_used,
    tx_storage_gas,
    validate_tx_gas,
)

MIN_BUCKET = 256


def capacity(value: int) -> Callable[[], int]:
    return lambda: value


def no_lookup() -> int:
    raise AssertionError("bucket capacity looked up although no charge is due")


def test_calldata_tokens() -> None:
    assert calldata_tokens(b"") == 0
    assert calldata_tokens(bytes(3) + b"\x01\x02") == 3 + 8


def test_intrinsic_gas() -> None:
    """§9.1 rows from mega-evm `tests/rex/intrinsic_gas.rs` and `storage_gas.rs`."""
    transfer = TxGasInputs(b"")
    assert intrinsic_gas(Spec.REX, transfer).total == 60_000
    assert intrinsic_gas(Spec.REX, transfer) == Gas(compute=21_000, storage=39_000)
    assert intrinsic_gas(Spec.MINI_REX, transfer).total == 21_000
    assert intrinsic_gas(Spec.EQUIVALENCE, transfer).total == 21_000
    assert intrinsic_gas(Spec.REX, TxGasInputs(b"\x01" * 100)).total == 77_600
    assert intrinsic_gas(Spec.REX, TxGasInputs(b"\x00", is_create=True)).total == 92_046
    create68 = TxGasInputs(bytes(64) + b"\x01" * 4, is_create=True)
    assert intrinsic_gas(Spec.REX, create68).total == 95_526


def test_intrinsic_gas_testdata() -> None:
    """§9.2 deterministic parts of blocks 1140-1142."""
    l1_info = TxGasInputs(bytes(106) + b"\x01" * 70)
    assert intrinsic_gas(Spec.REX, l1_info).total == 76_984
    system_tx = TxGasInputs(bytes(181) + b"\x01" * 15)
    assert intrinsic_gas(Spec.REX, system_tx).total == 70_604
    eip7702 = TxGasInputs(b"\x01" * 4, authorizations=1)
    assert intrinsic_gas(Spec.REX, eip7702).total == 85_704
    create225 = TxGasInputs(bytes(4) + b"\x01" * 221, is_create=True)
    assert intrinsic_gas(Spec.REX, create225).total == 131_088
    assert floor_gas(Spec.REX, create225) == 118_680
    access_list = TxGasInputs(b"", access_list_addresses=2, access_list_storage_keys=3)
    assert intrinsic_gas(Spec.REX, access_list).compute == 21_000 + 4_800 + 5_700


def test_floor_gas() -> None:
    data = TxGasInputs(b"\x01" * 100)  # 400 tokens
    assert floor_gas(Spec.EQUIVALENCE, data) == 21_000 + 10 * 400
    assert floor_gas(Spec.REX, data) == 21_000 + 110 * 400  # no 39,000 in the floor


def test_validate_tx_gas() -> None:
    validate_tx_gas(Spec.REX, TxGasInputs(b""), 60_000)
    with pytest.raises(InvalidTxGas, match="intrinsic gas 60000"):
        validate_tx_gas(Spec.REX, TxGasInputs(b""), 59_999)  # test_rex_intrinsic_gas_insufficient_gas_limit
    validate_tx_gas(Spec.MINI_REX, TxGasInputs(b""), 21_000)
    with pytest.raises(InvalidTxGas, match="standard intrinsic"):
        validate_tx_gas(Spec.REX, TxGasInputs(b""), 20_999)
    big = TxGasInputs(b"\x01" * 1000)  # standard floor 61,000 > standard intrinsic 37,000
    with pytest.raises(InvalidTxGas, match="EIP-7623 floor"):
        validate_tx_gas(Spec.EQUIVALENCE, big, 60_999)
    # The MegaETH floor (461,000) is not checked against the gas limit before Rex5.
    validate_tx_gas(Spec.REX, big, intrinsic_gas(Spec.REX, big).total)
    assert floor_gas(Spec.REX, big) > intrinsic_gas(Spec.REX, big).total


def test_validate_tx_gas_initcode_size() -> None:
    validate_tx_gas(Spec.REX, TxGasInputs(bytes(548_864), is_create=True), 10**9)
    with pytest.raises(InvalidTxGas, match="initcode size"):
        validate_tx_gas(Spec.REX, TxGasInputs(bytes(548_865), is_create=True), 10**9)
    with pytest.raises(InvalidTxGas, match="initcode size"):
        validate_tx_gas(Spec.EQUIVALENCE, TxGasInputs(bytes(49_153), is_create=True), 10**9)


def test_tx_storage_gas() -> None:
    """§9.1: new account 25,000·(m−1), contract creation 32,000·(m−1) in Rex; 2,000,000·m in MiniRex."""
    assert tx_storage_gas(Spec.REX, False, 1, True, capacity(MIN_BUCKET)) == Gas()
    assert tx_storage_gas(Spec.REX, False, 1, True, capacity(4 * MIN_BUCKET)) == Gas(storage=75_000)
    assert tx_storage_gas(Spec.REX, True, 0, False, capacity(5 * MIN_BUCKET)) == Gas(storage=128_000)
    assert tx_storage_gas(Spec.MINI_REX, True, 0, False, capacity(MIN_BUCKET)) == Gas(storage=2_000_000)
    assert tx_storage_gas(Spec.MINI_REX, False, 5, True, capacity(2 * MIN_BUCKET)) == Gas(storage=4_000_000)
    assert tx_storage_gas(Spec.REX, False, 0, True, no_lookup) == Gas()  # no value
    assert tx_storage_gas(Spec.REX, False, 1, False, no_lookup) == Gas()  # callee exists
    assert tx_storage_gas(Spec.EQUIVALENCE, True, 0, False, no_lookup) == Gas()


def test_starts_out_of_gas() -> None:
    """Tx-level storage gas is added after validation; if it no longer fits, the tx halts spending all gas."""
    initial = intrinsic_gas(Spec.REX, TxGasInputs(b"")) + Gas(storage=25_000)
    assert starts_out_of_gas(60_821, initial)
    assert not starts_out_of_gas(85_000, initial)
    assert tx_gas_used(
        gas_limit=60_821, outcome=Outcome.HALT, remaining=0, refund_counter=0, eip7702_refund=0, rescued=0,
        floor=0,
    ) == 60_821


def test_tx_gas_used() -> None:
    common = dict(gas_limit=100_000, eip7702_refund=0, rescued=0, floor=21_000)
    assert tx_gas_used(outcome=Outcome.SUCCESS, remaining=40_000, refund_counter=0, **common) == 60_000
    # refund capped at spent / 5
    assert tx_gas_used(outcome=Outcome.SUCCESS, remaining=40_000, refund_counter=50_000, **common) == 48_000
    # refund counter dropped on revert, kept 7702 refund
    assert tx_gas_used(
        gas_limit=100_000, outcome=Outcome.REVERT, remaining=40_000, refund_counter=5_000,
        eip7702_refund=2_000,
        rescued=0, floor=0,
    ) == 58_000
    # a plain halt spends everything
    assert tx_gas_used(outcome=Outcome.HALT, remaining=40_000, refund_counter=5_000, **common) == 100_000
    # floor binds
    assert tx_gas_used(
        gas_limit=100_000, outcome=Outcome.SUCCESS, remaining=70_000, refund_counter=0, eip7702_refund=0,
        rescued=0, floor=44_000,
    ) == 44_000
    # a MegaETH floor above the gas limit (200 non-zero calldata bytes: 109,000) takes the whole limit only
    assert tx_gas_used(
        gas_limit=100_000, outcome=Outcome.SUCCESS, remaining=30_000, refund_counter=0, eip7702_refund=0,
        rescued=0, floor=109_000,
    ) == 100_000


def test_tx_gas_used_limit_halt_rescue() -> None:
    """§4.7: a resource-limit halt ends at the gas actually consumed (rescued gas is given back)."""
    assert tx_gas_used(
        gas_limit=1_000_000, outcome=Outcome.HALT, remaining=0, refund_counter=9_999, eip7702_refund=0,
        rescued=700_000, floor=21_000,
    ) == 300_000
