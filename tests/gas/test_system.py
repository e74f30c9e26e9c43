"""System contracts, Mega system txs, fee vaults, deposit constants (mega-evm.md §7)."""

from __future__ import annotations

import pytest

from gas.spec import Spec
from gas.system import (
    KEYLESS_DEPLOY_ADDRESS,
    L1_FEE_VAULT_ADDRESS,
    MEGA_SYSTEM_ADDRESS,
    MEGA_SYSTEM_TX_SOURCE_HASH,
    ORACLE_ADDRESS,
    TIMESTAMP_ORACLE_ADDRESS,
    InvalidSystemTx,
    is_mega_system_tx,
    system_contracts,
)

USER = bytes(19) + b"\x07"


def test_addresses() -> None:
    assert ORACLE_ADDRESS.hex() == "6342000000000000000000000000000000000001"
    assert MEGA_SYSTEM_ADDRESS.hex() == "a887dcb9d5f39ef79272801d05abdf707cfbbd1d"
    assert L1_FEE_VAULT_ADDRESS.hex() == "420000000000000000000000000000000000001a"
    assert len(MEGA_SYSTEM_TX_SOURCE_HASH) == 32


def test_is_mega_system_tx() -> None:
    assert is_mega_system_tx(Spec.REX, MEGA_SYSTEM_ADDRESS, 0, ORACLE_ADDRESS)
    assert not is_mega_system_tx(Spec.REX, USER, 0, ORACLE_ADDRESS)
    assert not is_mega_system_tx(Spec.EQUIVALENCE, MEGA_SYSTEM_ADDRESS, 0, ORACLE_ADDRESS)
    for tx_type, to in ((2, ORACLE_ADDRESS), (0, TIMESTAMP_ORACLE_ADDRESS), (0, None)):
        with pytest.raises(InvalidSystemTx, match="whitelist"):
            is_mega_system_tx(Spec.REX, MEGA_SYSTEM_ADDRESS, tx_type, to)


def test_system_contracts() -> None:
    assert system_contracts(Spec.EQUIVALENCE) == ()
    assert system_contracts(Spec.REX) == (ORACLE_ADDRESS, TIMESTAMP_ORACLE_ADDRESS)
    assert KEYLESS_DEPLOY_ADDRESS in system_contracts(Spec.REX2)
