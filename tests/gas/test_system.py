"""System contracts, Mega system txs, fee vaults, deposit constants (mega-evm.md §7)."""

from __future__ import annotations

import pytest

from gas.spec import ForkSchedule, Spec
from gas.system import (
    KEYLESS_DEPLOY_ADDRESS,
    KEYLESS_DEPLOY_CODE_HASH,
    L1_FEE_VAULT_ADDRESS,
    MEGA_SYSTEM_ADDRESS,
    MEGA_SYSTEM_TX_SOURCE_HASH,
    ORACLE_ADDRESS,
    ORACLE_CODE_HASH_V1_0_0,
    ORACLE_CODE_HASH_V1_1_0,
    TIMESTAMP_ORACLE_ADDRESS,
    TIMESTAMP_ORACLE_CODE_HASH,
    KEYLESS_DEPLOY_SELECTOR,
    InvalidSystemTx,
    keyless_deploy_args,
    is_mega_system_tx,
    system_contract_code_hashes,
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


def test_system_contract_code_hashes() -> None:
    """Keyed on the hardforks (§8): none before MiniRex, still there under MiniRex1's rollback, oracle v1.1.0
    and KeylessDeploy from Rex2."""
    forks = ForkSchedule(mini_rex=10, mini_rex1=20, mini_rex2=30, rex=40, rex2=50)
    assert system_contract_code_hashes(forks, 9) == ()
    v1 = ((ORACLE_ADDRESS, ORACLE_CODE_HASH_V1_0_0), (TIMESTAMP_ORACLE_ADDRESS, TIMESTAMP_ORACLE_CODE_HASH))
    assert system_contract_code_hashes(forks, 10) == system_contract_code_hashes(forks, 25) == v1
    assert system_contract_code_hashes(forks, 49) == v1
    assert system_contract_code_hashes(forks, 50) == (
        (ORACLE_ADDRESS, ORACLE_CODE_HASH_V1_1_0), (TIMESTAMP_ORACLE_ADDRESS, TIMESTAMP_ORACLE_CODE_HASH),
        (KEYLESS_DEPLOY_ADDRESS, KEYLESS_DEPLOY_CODE_HASH))
    assert ORACLE_CODE_HASH_V1_1_0.hex().startswith("06df675a") and KEYLESS_DEPLOY_CODE_HASH.hex().startswith("55020d41")



def test_keyless_deploy_args() -> None:
    """Rex2 intercepts `keylessDeploy(bytes,uint256)` at KeylessDeploy when the calldata decodes (leniently)."""
    def call(offset: int, length: int, tail: int) -> bytes:
        return (KEYLESS_DEPLOY_SELECTOR + offset.to_bytes(32, "big") + (7).to_bytes(32, "big")
                + length.to_bytes(32, "big") + bytes(range(1, tail + 1)))
    good = call(64, 40, 64)
    assert keyless_deploy_args(Spec.REX2, KEYLESS_DEPLOY_ADDRESS, good) == (bytes(range(1, 41)), 7)
    assert keyless_deploy_args(Spec.REX2, KEYLESS_DEPLOY_ADDRESS, good + b"trailing") is not None
    padding_short = call(64, 40, 40)  # padding is not checked
    assert keyless_deploy_args(Spec.REX2, KEYLESS_DEPLOY_ADDRESS, padding_short) is not None
    for spec, to, data in ((Spec.REX1, KEYLESS_DEPLOY_ADDRESS, good), (Spec.REX2, ORACLE_ADDRESS, good),
                           (Spec.REX2, KEYLESS_DEPLOY_ADDRESS, b"\x54\xfd\x4d\x50" + good[4:]),  # version()
                           (Spec.REX2, KEYLESS_DEPLOY_ADDRESS, call(64, 41, 40)),  # bytes past the end
                           (Spec.REX2, KEYLESS_DEPLOY_ADDRESS, call(96, 0, 0)),  # length word missing
                           (Spec.REX2, KEYLESS_DEPLOY_ADDRESS, good[:60])):  # short head
        assert keyless_deploy_args(spec, to, data) is None
