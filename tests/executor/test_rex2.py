"""MegaETH Rex2 rules wired through the executor (spec/mega-evm.md §2.1; mega-evm v1.3.1 `tests/rex2/`):
SELFDESTRUCT is back with EIP-6780 semantics and plain compute gas; everything else is Rex1's."""

from __future__ import annotations

import pytest
from gas.spec import ChainConfig, ForkSchedule, Spec
from gas.system import KEYLESS_DEPLOY_ADDRESS, KEYLESS_DEPLOY_CODE_HASH, KEYLESS_DEPLOY_SELECTOR, ORACLE_ADDRESS
from gas.system import ORACLE_CODE_HASH_V1_0_0, ORACLE_CODE_HASH_V1_1_0, TIMESTAMP_ORACLE_ADDRESS, TIMESTAMP_ORACLE_CODE_HASH

from megaeth_node.executor.block import InvalidBlock, apply_block
from megaeth_node.executor.rex import RexRules
from megaeth_node.executor.state import Account, DictState
from megaeth_node.genesis import dev_chain
from megaeth_node.types import keccak256
from tests.executor.test_rex import ALICE, BOB, COINBASE, CONTRACT, _block, _gas, _loop, _run, _state, _tx

PUSH0, PUSH20, COINBASE_OP, SELFDESTRUCT, STOP, STATICCALL, GAS = 0x5F, 0x73, 0x41, 0xFF, 0x00, 0xFA, 0x5A


def _rex2(state: object, *txs: object) -> object:
    return _run(state, *txs, spec=Spec.REX2)  # type: ignore[arg-type]


def test_rex2_rules() -> None:
    assert RexRules(Spec.REX2).spec == Spec.REX2


def test_rex2_selfdestruct_costs_5000() -> None:
    """upstream `tests/rex2/selfdestruct.rs` (`PUSH0 PUSH0 SELFDESTRUCT` to its warm coinbase, balance 0):
    60,000 intrinsic + 2 + 2 + 5,000, all of it compute gas (no storage gas, §2.1)."""
    code = bytes([PUSH0, COINBASE_OP, SELFDESTRUCT])
    result = _rex2(_state({CONTRACT: code}), _tx(to=CONTRACT, gas=100_000))
    assert result.receipts[0].status == 1 and _gas(result) == [65_004]


def test_selfdestruct_of_an_old_contract_only_moves_its_balance() -> None:
    """EIP-6780: a contract not created in this tx keeps its code, nonce and storage; its balance goes to the
    beneficiary (cold BOB: 5,000 + 2,600, BOB exists so no 25,000)."""
    code = bytes([PUSH20]) + BOB + bytes([SELFDESTRUCT])
    state = _state({CONTRACT: code})
    state.accounts[CONTRACT] = Account(1, 700, keccak256(code))
    state.accounts[BOB] = Account(0, 5)
    state.storage_map[(CONTRACT, 1)] = 9
    result = _rex2(state, _tx(to=CONTRACT, gas=100_000))
    assert _gas(result) == [60_000 + 3 + 5_000 + 2_600]
    diff = result.state_diff
    assert diff.accounts[CONTRACT] == Account(1, 0, keccak256(code))
    assert diff.accounts[BOB].balance == 705 and (CONTRACT, 1) not in diff.storage
    assert CONTRACT not in diff.storage_wiped


def test_selfdestruct_in_the_creating_tx_removes_the_account() -> None:
    """EIP-6780: a constructor that self-destructs leaves no account; its endowment goes to BOB, which did
    not exist (+25,000 new-account gas on top of 5,000 and the cold 2,600)."""
    initcode = bytes([PUSH20]) + BOB + bytes([SELFDESTRUCT])
    created = keccak256(bytes.fromhex("d694") + ALICE + b"\x80")[12:]
    result = _rex2(_state(), _tx(to=None, data=initcode, value=1_000, gas=500_000))
    assert result.receipts[0].status == 1
    diff = result.state_diff
    assert diff.accounts.get(created) is None and diff.accounts[BOB] == Account(0, 1_000)


def test_selfdestruct_in_a_static_call_halts() -> None:
    """SELFDESTRUCT under STATICCALL is a state change: the child halts and the caller carries on."""
    child = b"\xc1" * 20
    caller = bytes([PUSH0] * 4) + bytes([PUSH20]) + child + bytes([GAS, STATICCALL, STOP])
    state = _state({CONTRACT: caller, child: bytes([PUSH0, SELFDESTRUCT])})
    state.accounts[child] = Account(1, 50, keccak256(bytes([PUSH0, SELFDESTRUCT])))
    result = _rex2(state, _tx(to=CONTRACT, gas=200_000))
    assert result.receipts[0].status == 1 and child not in result.state_diff.accounts


def test_selfdestruct_to_the_coinbase_does_not_detain() -> None:
    """Rex2's SELFDESTRUCT is revm's, without the beneficiary access mark (REX4 adds it): after a child
    self-destructs to the coinbase, the caller's endless loop is not capped at 20,000,000 compute gas (where
    it would halt with the rest rescued) but runs out of its 25,000,000 gas."""
    child = b"\xc1" * 20
    call = bytes([PUSH0] * 5) + bytes([PUSH20]) + child + bytes([GAS, 0xF1, 0x50])  # CALL(all gas), POP
    state = _state({CONTRACT: call + _loop(len(call)), child: bytes([PUSH20]) + COINBASE + bytes([SELFDESTRUCT])})
    result = _rex2(state, _tx(to=CONTRACT, gas=25_000_000))
    assert result.receipts[0].status == 0 and _gas(result) == [25_000_000]


def _keyless_call(payload: bytes = b"\xf8" + bytes(10), override: int = 10**10) -> bytes:
    """`keylessDeploy(bytes,uint256)` calldata (head: offset 64, override; tail: length, padded bytes)."""
    padded = payload + bytes(-len(payload) % 32)
    return (KEYLESS_DEPLOY_SELECTOR + (64).to_bytes(32, "big") + override.to_bytes(32, "big")
            + len(payload).to_bytes(32, "big") + padded)


def test_keyless_deploy_calls_are_refused_not_misexecuted() -> None:
    """Rex2 intercepts a tx's call to KeylessDeploy (a sandboxed pre-EIP-155 deployment, §2.1) that this node
    does not implement: the tx is never executed as a plain call, so a block holding one is not validated.
    Under Rex1 the same tx is an ordinary call of a code-less account, and under Rex2 a call with another
    selector runs the account's code."""
    tx = _tx(to=KEYLESS_DEPLOY_ADDRESS, data=_keyless_call(), gas=500_000)
    with pytest.raises(InvalidBlock, match="KeylessDeploy"):
        _rex2(_state(), tx)
    assert _run(_state(), tx, spec=Spec.REX1).receipts[0].status == 1
    other = _tx(to=KEYLESS_DEPLOY_ADDRESS, data=b"\x54\xfd\x4d\x50", gas=500_000)  # version()
    assert _rex2(_state(), other).receipts[0].status == 1


# --- §8 steps 4–6: system contracts installed before the first tx ------------------------------------------

REX2_CHAIN = ChainConfig(6342, ForkSchedule(mini_rex=0, rex=0, rex1=0, rex2=0))
READ_SLOT_5 = bytes([0x60, 5, 0x54, 0x60, 1, 0x01, PUSH0, 0x55, STOP])  # slot 0 := slot 5 + 1


def _old_oracle_state() -> DictState:
    """A chain before its first Rex2 block: the oracle at v1.0.0 with a balance and slot 5 = 9, the timestamp
    oracle at its code; "code" for oracle v1.1.0 that reads slot 5 (only its hash matters here)."""
    state = _state()
    state.accounts[ORACLE_ADDRESS] = Account(1, 3, ORACLE_CODE_HASH_V1_0_0)
    state.accounts[TIMESTAMP_ORACLE_ADDRESS] = Account(1, 0, TIMESTAMP_ORACLE_CODE_HASH)
    state.storage_map[(ORACLE_ADDRESS, 5)] = 9
    state.codes[ORACLE_CODE_HASH_V1_1_0] = READ_SLOT_5
    return state


def test_first_rex2_block_upgrades_the_oracle_and_clears_its_storage() -> None:
    """The oracle's code hash differs from v1.1.0: it gets v1.1.0 as a created account (balance and nonce
    kept, storage cleared, so its slot 5 reads 0 in the block), KeylessDeploy appears with its code hash, the
    timestamp oracle (same code) is untouched."""
    result = apply_block(_old_oracle_state(), _block(_tx(to=ORACLE_ADDRESS, gas=200_000)), REX2_CHAIN)
    diff = result.state_diff
    assert diff.accounts[ORACLE_ADDRESS] == Account(1, 3, ORACLE_CODE_HASH_V1_1_0)
    assert ORACLE_ADDRESS in diff.storage_wiped and diff.storage[(ORACLE_ADDRESS, 0)] == 1
    assert diff.accounts[KEYLESS_DEPLOY_ADDRESS] == Account(0, 0, KEYLESS_DEPLOY_CODE_HASH)
    assert TIMESTAMP_ORACLE_ADDRESS not in diff.accounts


def test_later_rex2_blocks_leave_the_oracle_alone() -> None:
    """With the expected code hashes in place the step changes nothing: slot 5 still reads 9."""
    state = _old_oracle_state()
    state.accounts[ORACLE_ADDRESS] = Account(1, 3, ORACLE_CODE_HASH_V1_1_0)
    state.accounts[KEYLESS_DEPLOY_ADDRESS] = Account(0, 0, KEYLESS_DEPLOY_CODE_HASH)
    diff = apply_block(state, _block(_tx(to=ORACLE_ADDRESS, gas=200_000)), REX2_CHAIN).state_diff
    assert not diff.storage_wiped and diff.storage[(ORACLE_ADDRESS, 0)] == 10
    assert ORACLE_ADDRESS not in diff.accounts and KEYLESS_DEPLOY_ADDRESS not in diff.accounts


def test_mini_rex_installs_missing_oracles() -> None:
    """From MiniRex a chain without the oracles gets both, with their v1.0.0 code hashes, before the first tx."""
    chain = ChainConfig(6342, ForkSchedule(mini_rex=0))
    diff = apply_block(_state(), _block(), chain).state_diff
    assert diff.accounts[ORACLE_ADDRESS] == Account(0, 0, ORACLE_CODE_HASH_V1_0_0)
    assert diff.accounts[TIMESTAMP_ORACLE_ADDRESS] == Account(0, 0, TIMESTAMP_ORACLE_CODE_HASH)
    assert KEYLESS_DEPLOY_ADDRESS not in diff.accounts


def test_a_dev_chain_without_system_contracts_installs_none() -> None:
    diff = apply_block(_state(), _block(), dev_chain(6342)).state_diff
    assert not ({ORACLE_ADDRESS, TIMESTAMP_ORACLE_ADDRESS, KEYLESS_DEPLOY_ADDRESS} & set(diff.accounts))
