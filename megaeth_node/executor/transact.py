"""One transaction against a block-scoped state: validity checks, execution, gas used, logs.

Invalid transactions raise `InvalidTransaction` and leave the state exactly as before (the ethereum/tests
`expectException` rule; for a replayer such a tx makes the block invalid).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter

from eth.abc import ComputationAPI, SignedTransactionAPI, StateAPI, VirtualMachineAPI
from eth.constants import CREATE_CONTRACT_ADDRESS, SECPK1_N
from eth.vm.forks.cancun.constants import BLOB_TX_TYPE
from eth.vm.forks.cancun.state import CancunState, get_total_blob_gas
from eth.vm.forks.shanghai.constants import MAX_INITCODE_SIZE
from eth.vm.spoof import SpoofTransaction
from eth_typing import Address
from eth_utils import ValidationError

from megaeth_node.executor.precompiles import FastCancunComputation
from megaeth_node.executor.state import KECCAK_EMPTY
from megaeth_node.types import Log

DELEGATION_PREFIX = b"\xef\x01\x00"
MAX_NONCE = 2**64 - 1


class InvalidTransaction(ValueError):
    """A transaction that cannot be included; the message names the failed check."""


@dataclass(frozen=True, slots=True)
class TxOutcome:
    status: int
    gas_used: int
    logs: tuple[Log, ...]
    computation: ComputationAPI


def check_sender(state: StateAPI, tx: SignedTransactionAPI) -> None:
    """EIP-3607 (sender must not have code, except a 7702 delegation) and EIP-2681 (nonce < 2^64 − 1). A
    `SpoofTransaction` (`eth_call`, `eth_estimateGas`: a simulation, not a signed tx) may come from a contract,
    as geth's calls skip the EOA check (smart-account simulations)."""
    sender = tx.sender
    if (not isinstance(tx, SpoofTransaction) and state.get_code_hash(sender) != KECCAK_EMPTY
            and not state.get_code(sender).startswith(DELEGATION_PREFIX)):
        raise InvalidTransaction(f"sender 0x{sender.hex()} has code (EIP-3607)")
    if state.get_nonce(sender) >= MAX_NONCE:
        raise InvalidTransaction(f"sender 0x{sender.hex()} nonce is at the maximum (EIP-2681)")


def check_create(tx: SignedTransactionAPI, max_initcode_size: int | None = MAX_INITCODE_SIZE) -> None:
    """EIP-3860: initcode of a create tx ≤ `max_initcode_size` (49,152 bytes on Ethereum; None: the caller
    checks its own limit); EIP-4844: a blob tx cannot create."""
    if tx.to != CREATE_CONTRACT_ADDRESS:
        return
    if getattr(tx, "type_id", None) == BLOB_TX_TYPE:
        raise InvalidTransaction("blob transaction cannot create a contract (EIP-4844)")
    if max_initcode_size is not None and len(tx.data) > max_initcode_size:
        raise InvalidTransaction(f"initcode size {len(tx.data)} > {max_initcode_size} (EIP-3860)")


def check_fees(state: StateAPI, tx: SignedTransactionAPI) -> None:
    """EIP-1559: priority fee ≤ max fee; EIP-4844: balance ≥ gas·max fee + value + blob gas·max blob fee."""
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise InvalidTransaction(
            f"max priority fee {tx.max_priority_fee_per_gas} > max fee {tx.max_fee_per_gas}")
    blob_gas = get_total_blob_gas(tx)
    blob_cost = blob_gas * tx.max_fee_per_blob_gas if blob_gas else 0
    cost = tx.gas * tx.max_fee_per_gas + tx.value + blob_cost
    if state.get_balance(tx.sender) < cost:
        raise InvalidTransaction(f"sender balance {state.get_balance(tx.sender)} < max cost {cost}")


def check_against_state(state: StateAPI, tx: SignedTransactionAPI) -> None:
    """py-evm's Cancun state checks of a tx that passed `check_fees` (London's fee cap ≥ base fee, Homestead's
    signature s, Frontier's nonce), in their order and with their errors. Frontier's two balance checks and
    Cancun's are implied by `check_fees` (gas·effective price + value ≤ gas·max fee + value ≤ balance);
    Cancun's blob checks concern blob txs, which the OP stack does not have and the node never decodes."""
    base_fee = state.execution_context.base_fee_per_gas
    if tx.max_fee_per_gas < base_fee:
        raise ValidationError(f"Sender's max fee per gas ({tx.max_fee_per_gas}) is lower than block's base "
                              f"fee per gas ({base_fee})")
    if tx.s > SECPK1_N // 2 or tx.s == 0:
        raise ValidationError("Invalid signature S value")
    sender_nonce = state.get_nonce(tx.sender)
    if sender_nonce != tx.nonce:
        raise ValidationError(f"Invalid transaction nonce: Expected {sender_nonce}, but got {tx.nonce}")


class EthChecks:
    """Mixin placed before a py-evm fork state: the Ethereum tx validity checks py-evm 0.12 lacks."""

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        check_create(transaction)
        check_fees(self, transaction)  # type: ignore[arg-type]
        check_sender(self, transaction)  # type: ignore[arg-type]
        super().validate_transaction(transaction)  # type: ignore[misc]


class CheckedCancunState(EthChecks, CancunState):
    """Cancun as ethereum/tests expect it (the conformance base)."""

    computation_class = FastCancunComputation

    def has_code_or_nonce(self, address: Address) -> bool:
        """EIP-7610 (applied to every Ethereum fork): a create also collides with an address that has
        storage. MegaETH's forks keep revm's nonce-or-code rule (mega-evm has no storage roots to ask)."""
        return super().has_code_or_nonce(address) or self._account_db.account_has_storage(address)


def run_transaction(vm_class: type[VirtualMachineAPI], state: StateAPI, tx: SignedTransactionAPI,
                    gas_available: int, blob_gas_available: int) -> TxOutcome:
    """Execute `tx` if it fits the block's remaining gas and blob gas; revert everything if it is invalid."""
    if tx.gas > gas_available:
        raise InvalidTransaction(f"tx gas {tx.gas} > block gas available {gas_available}")
    if get_total_blob_gas(tx) > blob_gas_available:
        raise InvalidTransaction(f"blob gas {get_total_blob_gas(tx)} > block blob gas available {blob_gas_available}")
    state.lock_changes()
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(tx)
    except ValidationError as e:
        state.revert(snapshot)
        raise InvalidTransaction(str(e)) from e
    except BaseException:  # InvalidTransaction, or a native run asking to be redone interpreted
        state.revert(snapshot)
        raise
    state.commit(snapshot)
    return TxOutcome(0 if computation.is_error else 1, vm_class.finalize_gas_used(tx, computation),
                     tx_logs(computation), computation)


def tx_logs(computation: ComputationAPI) -> tuple[Log, ...]:
    """py-evm's `get_log_entries()`: the entries of every frame that neither failed nor sits below a failed
    one, in emission order; in one walk of the call tree and one sort (py-evm sorts at every frame)."""
    entries: list[tuple[int, bytes, tuple[int, ...], bytes]] = []
    frames = [computation]
    while frames:
        frame = frames.pop()
        if not frame.is_error:
            entries += frame._log_entries  # type: ignore[attr-defined]
            frames += frame.children
    entries.sort(key=itemgetter(0))  # the log counter
    return tuple([Log(addr, tuple([t.to_bytes(32, "big") for t in topics]), data) for _, addr, topics, data in entries])
