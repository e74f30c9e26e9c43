"""OP Isthmus on top of py-evm's Prague: deposits (0x7e), Mega system txs, L1 data fee, operator fee, fee vaults.

Rules from spec/mega-evm.md §7.2–§7.5; the fee formulas come from `gas.l1fee`. Deposits and Mega system txs
run through py-evm's normal executor with a zero gas price, so refunds, the EIP-7623 floor and EIP-161
clearing stay py-evm's; only the fee movements differ.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from eth._utils.address import generate_contract_address
from eth.abc import ComputationAPI, MessageAPI, SignedTransactionAPI, StateAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.exceptions import VMError
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.forks.cancun.state import CancunTransactionExecutor
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth.vm.forks.shanghai.constants import INITCODE_WORD_COST, MAX_INITCODE_SIZE
from eth.vm.forks.spurious_dragon._utils import collect_touched_accounts
from eth.vm.forks.spurious_dragon.state import SpuriousDragonTransactionExecutor
from eth.vm.message import Message
from eth_typing import Address
from eth_utils import get_extended_debug_logger
from gas.l1fee import L1_BASE_FEE_SLOT, L1_BLOB_BASE_FEE_SLOT, L1_FEE_SCALARS_SLOT, OPERATOR_FEE_PARAMS_SLOT
from gas.l1fee import L1FeeParams, l1_data_fee, l1_fee_params_from_storage, operator_fee, operator_fee_refund
from gas.spec import Spec
from gas.system import BASE_FEE_VAULT_ADDRESS, DEPOSIT_TX_TYPE, L1_BLOCK_ADDRESS, L1_FEE_VAULT_ADDRESS
from gas.system import OPERATOR_FEE_VAULT_ADDRESS
from gas.tx import TxGasInputs, floor_gas, intrinsic_gas

from megaeth_node.executor.precompiles import FastPragueComputation
from megaeth_node.executor.transact import (
    InvalidTransaction, check_against_state, check_create, check_fees, check_sender,
)


@dataclass(frozen=True, slots=True)
class DepositTransaction:
    """A py-evm-shaped view of an OP deposit or a Mega system tx: no signature, no fee, optional mint."""

    sender: Address
    to: Address
    value: int
    data: bytes
    gas: int
    mint: int = 0
    nonce: int = 0
    hash: bytes = b""
    gas_price: int = 0
    max_fee_per_gas: int = 0
    max_priority_fee_per_gas: int = 0
    access_list: tuple[Any, ...] = ()
    type_id: int = DEPOSIT_TX_TYPE

    @property
    def _gas_inputs(self) -> TxGasInputs:
        return TxGasInputs(self.data, is_create=self.to == CREATE_CONTRACT_ADDRESS)

    @property
    def intrinsic_gas(self) -> int:
        """Prague intrinsic gas as py-evm deducts it before the message: without the EIP-3860 initcode
        word cost, which py-evm's Shanghai+ computation charges in the create frame (revm counts it in
        the intrinsic gas; the total is the same). MegaETH additions are the rules hooks' business."""
        full = intrinsic_gas(Spec.EQUIVALENCE, self._gas_inputs).compute
        if self.to == CREATE_CONTRACT_ADDRESS:
            full -= INITCODE_WORD_COST * ((len(self.data) + 31) // 32)
        return full

    def validate(self) -> None:
        """op-revm validates deposits only on gas: intrinsic gas (initcode words included) and the
        EIP-7623 floor must fit."""
        need = max(intrinsic_gas(Spec.EQUIVALENCE, self._gas_inputs).compute,
                   floor_gas(Spec.EQUIVALENCE, self._gas_inputs))
        if self.gas < need:
            raise InvalidTransaction(f"deposit gas {self.gas} < intrinsic gas {need}")


def credit_fee_vaults(state: Any, sender: bytes, gas_limit: int, gas_used: int, l1_fee: int) -> None:
    """After an ordinary tx (§7.4): the operator-fee difference back to the sender, then BaseFeeVault,
    L1FeeVault and OperatorFeeVault credited on the receipt's gas; zero amounts touch no account."""
    params = state.l1_fee_params
    for address, amount in (
        (sender, operator_fee_refund(params, gas_limit, gas_used)),
        (BASE_FEE_VAULT_ADDRESS, gas_used * state.execution_context.base_fee_per_gas),
        (L1_FEE_VAULT_ADDRESS, l1_fee),
        (OPERATOR_FEE_VAULT_ADDRESS, operator_fee(params, gas_used)),
    ):
        if amount:
            state.delta_balance(Address(address), amount)


def is_deposit(tx: Any) -> bool:
    return isinstance(tx, DepositTransaction)


class OpTransactionExecutor(PragueTransactionExecutor):
    """Prague execution plus the OP fee flows of §7.4: the sender pays the L1 data fee and the operator
    fee upfront; BaseFeeVault, L1FeeVault and OperatorFeeVault are credited after execution."""

    vm_state: OpState
    initcode_limit: int | None = MAX_INITCODE_SIZE  # EIP-3860's; None where the rules check their own

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        transaction.validate()
        if is_deposit(transaction):
            return
        # the Ethereum checks, then py-evm's Cancun → London → Homestead → Frontier state checks, in one pass
        check_create(transaction, self.initcode_limit)
        check_fees(self.vm_state, transaction)
        check_sender(self.vm_state, transaction)
        check_against_state(self.vm_state, transaction)
        cost = (transaction.gas * transaction.max_fee_per_gas + transaction.value
                + self._l1_fee(transaction) + operator_fee(self.vm_state.l1_fee_params, transaction.gas))
        if self.vm_state.get_balance(transaction.sender) < cost:
            raise InvalidTransaction(f"sender balance {self.vm_state.get_balance(transaction.sender)} < "
                                     f"cost {cost} including the L1 data fee and operator fee")

    def _l1_fee(self, transaction: SignedTransactionAPI) -> int:
        """The tx's L1 data fee, computed once per tx (validation, upfront charge and vault credit)."""
        cached = self.__dict__.get("_l1_fee_of")
        if cached is not None and cached[0] is transaction:
            return cached[1]  # type: ignore[no-any-return]
        fee = l1_data_fee(self.vm_state.l1_fee_params, self.vm_state.tx_encoding(transaction))
        self._l1_fee_of = (transaction, fee)
        return fee

    def receipt_gas_used(self, transaction: SignedTransactionAPI, computation: ComputationAPI) -> int:
        """The gas the receipt reports (and the fee vaults are credited on); a rule set's executor
        overrides it together with its VM's `finalize_gas_used`."""
        return OpVM.finalize_gas_used(transaction, computation)

    def build_evm_message(self, transaction: SignedTransactionAPI) -> MessageAPI:
        if is_deposit(transaction):
            if transaction.mint:
                self.vm_state.delta_balance(transaction.sender, transaction.mint)
            return self._prague_message(transaction)
        message = self._prague_message(transaction)
        upfront = self._l1_fee(transaction) + operator_fee(self.vm_state.l1_fee_params, transaction.gas)
        self.vm_state.delta_balance(transaction.sender, -upfront)
        return message

    def _prague_message(self, transaction: SignedTransactionAPI) -> MessageAPI:
        """py-evm's Cancun `build_evm_message` (Prague's refund and 7702 code hooks included) without its
        debug line, which formats the tx, the hex of the callee's whole code and a keccak of the data for
        every transaction, logged or not: gas and value upfront, nonce, then the message."""
        state, sender = self.vm_state, transaction.sender
        fee = transaction.gas * state.get_gas_price(transaction)
        if transaction.type_id == BLOB_TX_TYPE:
            fee += self.calc_data_fee(transaction)  # type: ignore[arg-type]
        state.delta_balance(sender, -fee)
        state.increment_nonce(sender)
        refund = self.calc_message_refund(transaction)
        if transaction.to == CREATE_CONTRACT_ADDRESS:
            created, data, code = generate_contract_address(sender, state.get_nonce(sender) - 1), b"", transaction.data
            delegated = False
        else:
            created, data = None, transaction.data
            code, delegate = self.get_code_at_address(transaction.to)
            delegated = delegate is not None
        return Message(gas=transaction.gas - transaction.intrinsic_gas, to=transaction.to, sender=sender,
                       value=transaction.value, data=data, code=code, create_address=created, refund=refund,
                       is_delegation=delegated)

    def finalize_computation(self, transaction: SignedTransactionAPI,
                             computation: ComputationAPI) -> ComputationAPI:
        computation = self._prague_finalize(transaction, computation)
        if is_deposit(transaction):
            return computation
        credit_fee_vaults(self.vm_state, transaction.sender, transaction.gas,
                          self.receipt_gas_used(transaction, computation), self._l1_fee(transaction))
        return computation

    def _prague_finalize(self, transaction: SignedTransactionAPI, computation: ComputationAPI) -> ComputationAPI:
        """py-evm's Prague `finalize_computation` (Frontier's gas refund, priority fee and self-destructs, then
        Spurious Dragon's EIP-161 clearing of touched empty accounts) without its debug lines, which hex-format
        addresses for every transaction, logged or not."""
        state = self.vm_state
        gas_remaining = computation.get_gas_remaining()
        gas_spent = transaction.gas - gas_remaining
        gas_refund = self.calculate_gas_refund(computation, gas_spent)
        floor = computation.data_floor_gas = self.calc_data_floor_gas(transaction, gas_spent, gas_refund)
        refund_amount = (gas_refund + gas_remaining - floor) * state.get_gas_price(transaction)
        if refund_amount:
            state.delta_balance(computation.msg.sender, refund_amount)
        charged = gas_spent - gas_refund + floor
        state.delta_balance(state.coinbase, charged * state.get_tip(transaction))  # touches the coinbase even at 0
        deleted, touched = _deleted_and_touched(computation)
        for account in deleted:
            state.delete_account(account)
        for account in touched:
            if state.account_exists(account) and state.account_is_empty(account):
                state.delete_account(account)
        return computation


_RIPEMD160 = Address(b"\x00" * 19 + b"\x03")


def _deleted_and_touched(computation: ComputationAPI) -> tuple[list[Address], set[Address]]:
    """py-evm's `get_accounts_for_deletion()` and `collect_touched_accounts()` (EIP-161, with its RIPEMD160
    special case), in one walk of the call tree when no frame self-destructed; both py-evm functions (each
    recursive at every frame) otherwise."""
    touched = {computation.state.coinbase}
    frames = [(computation, False)]
    while frames:
        frame, failed = frames.pop()
        if frame.accounts_to_delete or frame.beneficiaries:  # type: ignore[attr-defined]
            return computation.get_accounts_for_deletion(), collect_touched_accounts(computation)
        failed = failed or frame.is_error
        to = frame.msg.to
        if to != CREATE_CONTRACT_ADDRESS and (not failed or to == _RIPEMD160):
            touched.add(to)
        frames.extend((child, failed) for child in frame.children)
    return [], touched


# op-revm `isthmus()` precompile input bounds (Granite's bn254 pairing, Isthmus's BLS12-381 MSMs and pairing):
# a longer input fails the call, as an error (all its gas, no output)
ISTHMUS_INPUT_BOUNDS = {0x08: 112_687, 0x0C: 513_760, 0x0E: 488_448, 0x0F: 235_008}


def _bounded(precompile: Any, max_input: int) -> Any:
    def bounded(computation: Any) -> Any:
        if len(computation.msg.data) > max_input:
            raise VMError(f"precompile input of {len(computation.msg.data)} bytes over the bound {max_input}")
        return precompile(computation)
    return bounded


def _isthmus_precompiles(base: dict[Any, Any]) -> dict[Any, Any]:
    bounded = {}
    for number, bound in ISTHMUS_INPUT_BOUNDS.items():
        address = number.to_bytes(20, "big")
        bounded[address] = _bounded(base[address], bound)
    return {**base, **bounded}


class IsthmusComputation(FastPragueComputation):
    """Prague's frame with OP Isthmus's precompile input bounds (`ISTHMUS_INPUT_BOUNDS`)."""

    _precompiles = _isthmus_precompiles(FastPragueComputation._precompiles)


class OpState(PragueState):
    """Prague state with OP fee rules; `l1_fee_params` is set by the block executor after the L1-info deposit."""

    computation_class = IsthmusComputation
    transaction_executor_class = OpTransactionExecutor
    l1_fee_params: L1FeeParams = L1FeeParams()

    @property
    def logger(self) -> Any:
        """py-evm's state logger, looked up once per class (py-evm builds it at every use)."""
        return _state_logger(type(self))

    @staticmethod
    def tx_encoding(transaction: SignedTransactionAPI) -> bytes:
        """The tx's EIP-2718 bytes: kept from decoding when the block executor made it (`_encoded`)."""
        encoded = getattr(transaction, "_encoded", None)
        return transaction.encode() if encoded is None else encoded  # type: ignore[no-any-return]

    def get_gas_price(self, transaction: SignedTransactionAPI) -> int:
        return 0 if is_deposit(transaction) else super().get_gas_price(transaction)

    def get_tip(self, transaction: SignedTransactionAPI) -> int:
        return 0 if is_deposit(transaction) else super().get_tip(transaction)


@functools.cache
def _state_logger(cls: type) -> Any:
    return get_extended_debug_logger(f"eth.vm.state.{cls.__name__}")


# `_prague_message` and `_prague_finalize` stand for py-evm's own: its Prague executor must not override them
assert PragueTransactionExecutor.build_evm_message is CancunTransactionExecutor.build_evm_message
assert PragueTransactionExecutor.finalize_computation is SpuriousDragonTransactionExecutor.finalize_computation


def load_l1_fee_params(state: StateAPI) -> L1FeeParams:
    """L1Block fee parameters as op-revm reads them before the first non-deposit tx (spec/mega-evm.md §7.4)."""
    slots = (L1_BASE_FEE_SLOT, L1_FEE_SCALARS_SLOT, L1_BLOB_BASE_FEE_SLOT, OPERATOR_FEE_PARAMS_SLOT)
    return l1_fee_params_from_storage({s: state.get_storage(Address(L1_BLOCK_ADDRESS), s) for s in slots})


def with_sender(evm_tx: SignedTransactionAPI, sender: bytes, encoded: bytes) -> SignedTransactionAPI:
    """`evm_tx` as signed by `sender`, which the caller has recovered (py-evm's lazy recovery would repeat that
    work), with `encoded` as its EIP-2718 bytes (the L1 data fee input)."""
    evm_tx.__dict__["sender"] = Address(sender)  # the value of the `sender` cached_property
    evm_tx.__dict__["_encoded"] = encoded
    # legacy txs' `validate()` re-recovers the signature (its field checks — r, s, v ranges — still run)
    evm_tx.__dict__["check_signature_validity"] = _signature_recovered
    return evm_tx


def _signature_recovered() -> None:
    """The signature check of a tx whose signer the caller recovered: already done."""


class OpVM(PragueVM):
    """PragueVM with the OP state; Prague execution-layer requests (EIP-6110/7002/7251) are never run (§10)."""

    _state_class = OpState
