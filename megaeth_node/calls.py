"""`eth_call` and `eth_estimateGas`: run a transaction through the full executor path on the newest state,
then undo it (spec/rpc.md §2 notes on eth_estimateGas / eth_call)."""

from __future__ import annotations

from dataclasses import dataclass

from eth.abc import StateAPI
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.spoof import SpoofTransaction
from eth_keys import keys
from eth_typing import Address

from megaeth_node.errors import ExecutionReverted, InsufficientFunds, InvalidTransaction
from megaeth_node.executor.op import OpVM
from megaeth_node.executor.rules import IsthmusRules

_CARRIER_KEY = keys.PrivateKey(b"\x01" * 32)  # signs the carrier tx; the sender is overridden
ZERO_ADDRESS = bytes(20)


@dataclass(frozen=True, slots=True)
class CallRequest:
    sender: bytes = ZERO_ADDRESS
    to: bytes | None = None
    gas: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int = 0
    value: int = 0
    data: bytes = b""
    access_list: tuple[tuple[bytes, tuple[bytes, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class AccountOverride:
    """One entry of an `eth_call` StateOverride: `state` replaces all storage, `state_diff` patches slots."""

    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    state: dict[int, int] | None = None
    state_diff: dict[int, int] | None = None


def apply_overrides(state: StateAPI, overrides: dict[bytes, AccountOverride]) -> None:
    """Write the overrides into `state` (inside the caller's snapshot)."""
    for address, o in overrides.items():
        addr = Address(address)
        if o.balance is not None:
            state.set_balance(addr, o.balance)
        if o.nonce is not None:
            state.set_nonce(addr, o.nonce)
        if o.code is not None:
            state.set_code(addr, o.code)
        if o.state is not None:
            state.delete_storage(addr)
        for slot, value in {**(o.state or {}), **(o.state_diff or {})}.items():
            state.set_storage(addr, slot, value)


@dataclass(frozen=True, slots=True)
class CallResult:
    success: bool
    gas_used: int
    output: bytes
    error: str


def _revert_reason(output: bytes) -> str:
    """`execution reverted` plus the decoded `Error(string)` reason when there is one (geth wording)."""
    if output[:4] == bytes.fromhex("08c379a0") and len(output) >= 68:
        length = int.from_bytes(output[36:68], "big")
        reason = output[68:68 + length].decode("utf-8", "replace")
        return f"execution reverted: {reason}"
    return "execution reverted"


def simulate(state: StateAPI, rules: IsthmusRules, chain_id: int, req: CallRequest, gas: int,
             overrides: dict[bytes, AccountOverride] | None = None) -> CallResult:
    """Execute `req` with `gas` on `state` and revert everything. Without fee fields the call pays the
    base fee with balance credited for the occasion, so the balance only has to cover `value`."""
    base_fee = state.execution_context.base_fee_per_gas
    fee = max(req.max_fee_per_gas or 0, base_fee)
    sender = Address(req.sender)
    state.lock_changes()  # a transaction boundary: SSTORE's "original" values are the current ones
    snapshot = state.snapshot()
    try:
        if overrides:  # journaled like the call itself, so the revert below removes them too
            apply_overrides(state, overrides)
        unsigned = OpVM.get_transaction_builder().new_unsigned_dynamic_fee_transaction(
            chain_id, state.get_nonce(sender), min(req.max_priority_fee_per_gas, fee), fee, gas,
            Address(req.to) if req.to else CREATE_CONTRACT_ADDRESS, req.value, req.data,
            [(Address(a), [int.from_bytes(k, "big") for k in ks]) for a, ks in req.access_list])
        tx = SpoofTransaction(unsigned.as_signed_transaction(_CARRIER_KEY), sender=sender)
        if req.max_fee_per_gas is None:
            state.delta_balance(sender, gas * fee)
        rules.before_transaction(state, tx)
        try:
            computation = state.apply_transaction(tx)
        except Exception as e:  # py-evm ValidationError and executor checks: the request is not executable
            if "balance" in str(e).lower():
                raise InsufficientFunds(f"insufficient funds for gas * price + value: {e}") from e
            raise InvalidTransaction(str(e)) from e
        gas_used = OpVM.finalize_gas_used(tx, computation)
        if computation.is_error:
            output = b"" if computation.error.burns_gas else computation.output
            return CallResult(False, gas_used, output, str(computation.error) or type(computation.error).__name__)
        return CallResult(True, gas_used, computation.output, "")
    finally:
        state.revert(snapshot)


def call(state: StateAPI, rules: IsthmusRules, chain_id: int, req: CallRequest, gas_cap: int,
         overrides: dict[bytes, AccountOverride] | None = None) -> bytes:
    """`eth_call`: the return data, or ExecutionReverted (code 3) with the revert bytes."""
    res = simulate(state, rules, chain_id, req, min(req.gas or gas_cap, gas_cap), overrides)
    if not res.success:
        if res.output or "revert" in res.error.lower():
            raise ExecutionReverted(_revert_reason(res.output), res.output)
        raise InvalidTransaction(f"execution failed: {res.error}")
    return res.output


def estimate_gas(state: StateAPI, rules: IsthmusRules, chain_id: int, req: CallRequest, gas_cap: int) -> int:
    """Binary search for the lowest gas limit that succeeds, through every gas dimension the executor applies."""
    hi = min(req.gas or gas_cap, gas_cap)
    top = simulate(state, rules, chain_id, req, hi)
    if not top.success:
        if top.output or "revert" in top.error.lower():
            raise ExecutionReverted(_revert_reason(top.output), top.output)
        raise InvalidTransaction(f"gas required exceeds allowance ({hi})")
    lo = top.gas_used - 1
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        try:
            ok = simulate(state, rules, chain_id, req, mid).success
        except InvalidTransaction:
            ok = False
        if ok:
            hi = mid
        else:
            lo = mid
    return hi
