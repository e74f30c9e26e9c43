"""Plain value transfers under Rex without the EVM frame machinery (spec/mega-evm.md §3, §4, §7.4).

An EIP-1559 transaction with no calldata and no access list, to an account without code that is not a
precompile, the coinbase or the oracle, runs no bytecode: its outcome is the tx-level rules alone. py-evm's
path builds a transaction object, a message and a computation for it (~850 Python calls); `run_transfer`
applies the same rule functions to the block state in the same order, so the state diff (reads included),
the meters and the receipt are the same. It runs only transactions it can tell are valid and include no
halt; anything else (an invalid tx, one that starts out of gas, a limit already crossed) returns None
before any state change and goes through the EVM path, which raises or includes it as usual.
tests/executor/test_transfer.py compares both paths on random transfers.
"""

from __future__ import annotations

from typing import Any

from eth_utils import ValidationError
from gas.detention import is_oracle_access
from gas.l1fee import effective_gas_price, l1_data_fee, operator_fee
from gas.system import MEGA_SYSTEM_ADDRESS
from gas.tx import InvalidTxGas, Outcome, TxGasInputs, floor_gas, intrinsic_gas, tx_gas_used, tx_storage_gas
from gas.tx import validate_tx_gas

from megaeth_node.executor.op import credit_fee_vaults
from megaeth_node.executor.rex import RexMeters, RexRules, is_empty_account
from megaeth_node.executor.state import KECCAK_EMPTY, account_key
from megaeth_node.executor.transact import MAX_NONCE
from megaeth_node.types import DYNAMIC_FEE_TX_TYPE, SECP256K1_N, Transaction

_UINT256 = 2**256
_NO_DATA = TxGasInputs(b"")


def is_transfer_shape(tx: Transaction, sender: bytes, rules: Any) -> bool:
    """What `run_transfer` can take, judged from the tx alone: EIP-1559, a 20-byte recipient, no calldata, no
    access list, fields within py-evm's bounds, not from the Mega system address, under a Rex rule set."""
    return (tx.type == DYNAMIC_FEE_TX_TYPE and not tx.data and not tx.access_list and tx.to is not None
            and len(tx.to) == 20 and sender != MEGA_SYSTEM_ADDRESS and isinstance(rules, RexRules)
            and tx.y_parity() in (0, 1)
            and 0 < tx.r < SECP256K1_N and 0 < tx.s <= SECP256K1_N // 2
            and max(tx.chain_id or 0, tx.max_fee_per_gas, tx.max_priority_fee_per_gas, tx.gas, tx.value) < _UINT256)


def run_transfer(state: Any, rules: RexRules, tx: Transaction, sender: bytes, gas_available: int) -> int | None:
    """Execute the transfer `tx` (`is_transfer_shape`) from `sender`, as `transact.run_transaction` would
    with the Rex executor: its receipt gas; None, changing nothing, when it needs the EVM path (an opcode
    tracer is on, too). The block executor has loaded the L1 fee parameters."""
    to, spec = tx.to, rules.spec
    assert to is not None
    base_fee = state.execution_context.base_fee_per_gas
    if (tx.gas > gas_available or state.rex.trace is not None or is_oracle_access(spec, to, sender)
            or state.is_preloaded_warm(to) or tx.max_priority_fee_per_gas > tx.max_fee_per_gas
            or tx.max_fee_per_gas < base_fee or tx.nonce >= MAX_NONCE):
        return None
    # validity (OpTransactionExecutor.validate_transaction, RexTransactionExecutor's gas check): like the
    # EVM path, nothing but the sender is read until the tx is known to be valid (reads are witness keys)
    if state.get_code_hash(sender) != KECCAK_EMPTY or state.get_nonce(sender) != tx.nonce:
        return None
    params = state.l1_fee_params
    l1_fee = l1_data_fee(params, tx.encode())
    upfront_fees = l1_fee + operator_fee(params, tx.gas)
    if state.get_balance(sender) < tx.gas * tx.max_fee_per_gas + tx.value + upfront_fees:
        return None
    try:
        validate_tx_gas(spec, _NO_DATA, tx.gas)
    except InvalidTxGas:
        return None
    if state.get_code_hash(to) != KECCAK_EMPTY:
        return None
    # on_new_tx and the tx-level gas (RexRules.before_transaction, RexTransactionExecutor.build_evm_message)
    rex: RexMeters = state.rex
    rex.start_tx(sender, to, 0, (), 0, 0)
    initial = intrinsic_gas(spec, _NO_DATA)
    transfers = tx.value != 0
    empty = transfers and is_empty_account(state, to)
    total = initial.total + tx_storage_gas(spec, False, tx.value, empty, rex.capacity(account_key(to))).total
    floor = floor_gas(spec, _NO_DATA)
    rex.compute_used = initial.compute
    rex.meter.enter_call(transfers, empty)  # the top frame's init (RexComputation.apply_message)
    if total > tx.gas or floor > total or rex.check() or rex.compute_used > rex.compute_limit:
        return None  # starts out of gas, or halts at frame init: the EVM path (it starts the tx afresh)
    state.lock_changes()
    snapshot = state.snapshot()  # as run_transaction: nothing of a failed tx stays behind
    try:
        gas_used = _apply(state, tx, sender, base_fee, total, floor, l1_fee, upfront_fees)
    except ValidationError:  # a balance beyond 2^256: the EVM path rejects the tx, with its message
        state.revert(snapshot)
        return None
    except BaseException:  # a backend error (a key missing from a witness): the block fails
        state.revert(snapshot)
        raise
    state.commit(snapshot)
    return gas_used


def _apply(state: Any, tx: Transaction, sender: bytes, base_fee: int, total: int, floor: int, l1_fee: int,
           upfront_fees: int) -> int:
    """The state changes of a valid transfer, in the EVM path's order."""
    to, transfers = tx.to, tx.value != 0
    assert to is not None
    # upfront: gas at the effective price, nonce, L1 data and operator fees (OpTransactionExecutor)
    price = effective_gas_price(base_fee, tx.max_fee_per_gas, tx.max_priority_fee_per_gas)
    state.delta_balance(sender, -tx.gas * price)
    state.increment_nonce(sender)
    state.delta_balance(sender, -upfront_fees)
    # the frame: value, touch; empty code stops at once, spending nothing
    if transfers:
        state.delta_balance(sender, -tx.value)
        state.delta_balance(to, tx.value)
    state.touch_account(to)
    state.rex.meter.exit_frame(True)
    # finalization (OpTransactionExecutor._prague_finalize): refund, priority fee, EIP-161, fee vaults
    remaining = tx.gas - total
    if remaining * price:
        state.delta_balance(sender, remaining * price)
    state.delta_balance(state.coinbase, total * (price - base_fee))
    for account in {state.coinbase, to}:
        if state.account_exists(account) and state.account_is_empty(account):
            state.delete_account(account)
    gas_used = tx_gas_used(gas_limit=tx.gas, outcome=Outcome.SUCCESS, remaining=remaining, refund_counter=0,
                           eip7702_refund=0, rescued=0, floor=floor)
    credit_fee_vaults(state, sender, tx.gas, gas_used, l1_fee)
    state.clear_transient_storage()
    return gas_used
