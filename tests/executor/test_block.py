"""`apply_block` on small synthetic Isthmus blocks: deposits, fees to the OP vaults, receipts, system calls."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
from dataclasses import replace

import pytest
from coincurve import PrivateKey
from eth.abc import StateAPI, TransactionExecutorAPI
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.frontier.state import FrontierState, FrontierTransactionExecutor
from eth.vm.forks.homestead.state import HomesteadState
from eth.vm.forks.london.state import LondonState
from eth.vm.forks.prague.state import PragueState
from gas.spec import ChainConfig, ForkSchedule
from gas.system import BASE_FEE_VAULT_ADDRESS, BEACON_ROOTS_ADDRESS, L1_BLOCK_ADDRESS, L1_FEE_VAULT_ADDRESS

from megaeth_node.executor.block import InvalidBlock, apply_block
from megaeth_node.executor.op import OpTransactionExecutor
from megaeth_node.executor.state import Account, DictState
from megaeth_node.types import DEPOSIT_TX_TYPE, Block, Header, Transaction, keccak256

CHAIN = ChainConfig(6342, ForkSchedule())  # plain Isthmus: no MegaETH rules yet
KEY = PrivateKey(b"\x01" * 32)
ALICE = keccak256(KEY.public_key.format(compressed=False)[1:])[12:]
BOB, COINBASE, DEPOSITOR = b"\xb0" * 20, b"\x42" + b"\x00" * 18 + b"\x11", b"\xde" * 20
BASE_FEE, PRICE = 1_000_000, 2_000_000
# L1Block storage of the real blocks (spec/mega-evm.md §7.4): l1BaseFee 7, scalars 1368 / 810949, blob fee 1
L1_SLOTS = {1: 7, 3: (1368 << 96) | (810949 << 64), 7: 1}


def _signed(tx: Transaction) -> Transaction:
    sig = KEY.sign_recoverable(tx.signing_hash(), hasher=None)
    return replace(tx, r=int.from_bytes(sig[:32], "big"), s=int.from_bytes(sig[32:64], "big"), v=sig[64])


def _block(*txs: tuple[Transaction, bytes]) -> Block:
    header = Header(b"\x01" * 32, b"\x00" * 32, COINBASE, b"\x00" * 32, b"\x00" * 32, b"\x00" * 32, bytes(256), 0,
                    10, 30_000_000, 0, 1_000, b"", b"\x02" * 32, bytes(8), BASE_FEE, None, 0, 0, b"\x03" * 32)
    return Block(header, tuple(t for t, _ in txs), tuple(s for _, s in txs), header.hash)


def _state() -> DictState:
    beacon_code = b"\x00"
    return DictState({ALICE: Account(0, 10**18), COINBASE: Account(0, 1),
                      BEACON_ROOTS_ADDRESS: Account(1, 0, keccak256(beacon_code))},
                     {(L1_BLOCK_ADDRESS, s): v for s, v in L1_SLOTS.items()}, {keccak256(beacon_code): beacon_code})


def _transfer(nonce: int = 0, value: int = 10**17) -> Transaction:
    return _signed(Transaction(type=2, nonce=nonce, gas=60_821, to=BOB, value=value, data=b"", chain_id=6342,
                               max_priority_fee_per_gas=PRICE - BASE_FEE, max_fee_per_gas=PRICE))


def test_deposit_then_transfer_pays_l1_fee_and_vaults() -> None:
    deposit = Transaction(type=DEPOSIT_TX_TYPE, nonce=0, gas=100_000, to=BOB, value=0, data=b"", mint=5,
                          source_hash=b"\x07" * 32, deposit_sender=DEPOSITOR)
    result = apply_block(_state(), _block((deposit, DEPOSITOR), (_transfer(), ALICE)), CHAIN)
    dep, transfer = result.receipts
    assert (dep.status, dep.cumulative_gas_used, dep.deposit_nonce, dep.deposit_receipt_version) == (1, 21_000, 0, 1)
    assert (transfer.status, transfer.cumulative_gas_used, transfer.deposit_nonce) == (1, 42_000, None)
    accounts = result.state_diff.accounts
    l1_fee = 96  # spec/mega-evm.md §9.2: FastLZ length ≤ 170 pays the minimum
    assert accounts[ALICE] == Account(1, 10**18 - 10**17 - 21_000 * PRICE - l1_fee)
    assert accounts[BOB] == Account(0, 10**17)
    assert accounts[DEPOSITOR] == Account(1, 5)
    assert accounts[COINBASE].balance == 1 + 21_000 * (PRICE - BASE_FEE)
    assert accounts[BASE_FEE_VAULT_ADDRESS].balance == 21_000 * BASE_FEE
    assert accounts[L1_FEE_VAULT_ADDRESS].balance == l1_fee
    assert result.gas_used == 42_000


def test_beacon_root_system_call_writes_its_two_slots() -> None:
    result = apply_block(_state(), _block((_transfer(), ALICE)), CHAIN)
    ts = 1_000
    assert result.state_diff.storage[(BEACON_ROOTS_ADDRESS, ts % 8191)] == ts
    assert result.state_diff.storage[(BEACON_ROOTS_ADDRESS, 8191 + ts % 8191)] == int.from_bytes(b"\x03" * 32, "big")


def test_invalid_transaction_makes_the_block_invalid() -> None:
    with pytest.raises(InvalidBlock, match="tx 0"):
        apply_block(_state(), _block((_transfer(nonce=5), ALICE)), CHAIN)


def test_deposit_create_pays_the_initcode_words_once() -> None:
    """A deposit creating a contract: 21,000 + 32,000 + 4 (one zero byte) + 2 (one initcode word, EIP-3860)
    = 53,006; py-evm charges the word cost in the create frame, so the intrinsic gas it deducts must leave
    it out (it was charged twice: 53,008)."""
    deposit = Transaction(type=DEPOSIT_TX_TYPE, nonce=0, gas=100_000, to=None, value=0, data=b"\x00", mint=0,
                          source_hash=b"\x07" * 32, deposit_sender=DEPOSITOR)
    (receipt,) = apply_block(_state(), _block((deposit, DEPOSITOR)), CHAIN).receipts
    assert (receipt.status, receipt.cumulative_gas_used) == (1, 53_006)


@pytest.mark.parametrize(("tx", "message"), [
    (_transfer(nonce=5), "Invalid transaction nonce: Expected 0, but got 5"),
    (_signed(replace(_transfer(), max_fee_per_gas=BASE_FEE - 1, max_priority_fee_per_gas=0)),
     f"Sender's max fee per gas ({BASE_FEE - 1}) is lower than block's base fee per gas ({BASE_FEE})"),
    (_transfer(value=10**18), "sender balance 1000000000000000000 < max cost"),
])
def test_invalid_transaction_reasons(tx: Transaction, message: str) -> None:
    """The one-pass validity checks (`OpTransactionExecutor.validate_transaction`) give py-evm's reasons."""
    with pytest.raises(InvalidBlock, match=re.escape(message)):
        apply_block(_state(), _block((tx, ALICE)), CHAIN)


# sha256 of the py-evm 0.12 sources the executor restates: OpTransactionExecutor.validate_transaction runs
# the state checks these make in one pass (`check_against_state`), the overlay state's `delta_balance` is
# BaseState's in one account lookup. A py-evm upgrade that changes one fails here, for a review.
RESTATED = {
    "eth.vm.forks.frontier.validation.validate_frontier_transaction":
        "ea5eab61a3da65c142d4822a4e108249b60246ccd65a5bbe5f184d2b3aceb780",
    "eth.vm.forks.homestead.validation.validate_homestead_transaction":
        "2f9431cccdc54ff2c0b4827de5c88ea0109bf8882e981175e160b509d7b14f0f",
    "eth.vm.forks.london.validation.validate_london_normalized_transaction":
        "7eca028901c0d2796cd1bb72a694642f9cdf12d89dd760d6f3d34f500fef595c",
    "eth.vm.forks.london.state.LondonState.validate_transaction":
        "fa14fade10513e06c174c459b1ee83faaf6b98e9ea54a43b6fd73d6fa29fe7e2",
    "eth.vm.forks.cancun.state.CancunState.validate_transaction":
        "441f3f433e583478fbfd04286e8b3ab2c3fe66886a2a5178bb5639721ca6390c",
    "eth.vm.forks.frontier.state.FrontierTransactionExecutor.validate_transaction":
        "7a77d8518f64cd2ac406550474550ed14f80aba50747b9c7b175d765240106d8",
    "eth.vm.state.BaseState.delta_balance":
        "a4e658b79c125d0b67d4f9040c6e8cb7785c1aae8417e9da47f61747494eeb52",
}


@pytest.mark.parametrize("name", sorted(RESTATED))
def test_restated_pyevm_source_is_unchanged(name: str) -> None:
    module, _, attr = name.rpartition(".")
    try:
        obj = importlib.import_module(module)
    except ModuleNotFoundError:  # a method: import its class's module
        module, _, cls = module.rpartition(".")
        obj = getattr(importlib.import_module(module), cls)
    source = inspect.getsource(getattr(obj, attr))
    assert hashlib.sha256(source.encode()).hexdigest() == RESTATED[name]


def test_no_py_evm_class_adds_a_validity_check_the_one_pass_skips() -> None:
    """`OpTransactionExecutor.validate_transaction` stands for py-evm's executor and state checks: no class in
    between defines another (a py-evm upgrade adding one fails here, as the source pins do for edits)."""
    assert [k for k in OpTransactionExecutor.__mro__[1:] if "validate_transaction" in k.__dict__] == \
        [FrontierTransactionExecutor, TransactionExecutorAPI]
    assert [k for k in PragueState.__mro__ if "validate_transaction" in k.__dict__] == \
        [CancunState, LondonState, HomesteadState, FrontierState, StateAPI]
