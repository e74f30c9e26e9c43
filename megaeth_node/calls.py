"""`eth_call`, `eth_estimateGas` and `eth_createAccessList`: run a transaction through the full executor path on
the newest state, then undo it (spec/rpc.md §2 notes on eth_estimateGas / eth_call, §3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from eth.abc import ComputationAPI, StateAPI
from eth._utils.address import generate_contract_address
from eth.constants import CREATE_CONTRACT_ADDRESS
from eth.vm.forks.prague.transactions import Authorization as EvmAuthorization
from eth.vm.spoof import SpoofTransaction
from eth_keys import keys
from eth_typing import Address

from megaeth_node.errors import ExecutionReverted, InsufficientFunds, InvalidTransaction
from megaeth_node.executor.op import OpVM
from megaeth_node.executor.rex_native import NativeAbort, interpreted_on_abort
from megaeth_node.executor.rules import IsthmusRules
from megaeth_node.executor.tracing import TraceAborted, vm_error
from megaeth_node.types import Authorization

_SLOT_OPS = frozenset({0x54, 0x55})  # SLOAD, SSTORE: slot on top of the stack
_ADDRESS_OPS = frozenset({0x31, 0x3B, 0x3C, 0x3F, 0xFF})  # BALANCE, EXTCODESIZE/COPY/HASH, SELFDESTRUCT: top
_CALL_OPS = frozenset({0xF1, 0xF2, 0xF4, 0xFA})  # CALL, CALLCODE, DELEGATECALL, STATICCALL: second from top

_CARRIER_KEY = keys.PrivateKey(b"\x01" * 32)  # signs the carrier tx; the sender is overridden
ZERO_ADDRESS = bytes(20)
AccessList = tuple[tuple[bytes, tuple[bytes, ...]], ...]
OpcodeHook = Callable[[Any, int, int], None]  # `(computation, opcode, pc)` before every opcode of every frame
MAX_ACCESS_LIST_ROUNDS = 64  # each round only grows the list; real calls settle in 2-3


@dataclass(frozen=True, slots=True)
class CallRequest:
    sender: bytes = ZERO_ADDRESS
    to: bytes | None = None
    gas: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int = 0
    value: int = 0
    data: bytes = b""
    access_list: AccessList = ()
    authorization_list: tuple[Authorization, ...] = ()  # EIP-7702: a set-code transaction when not empty


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
    computation: ComputationAPI = field(repr=False, compare=False)  # the top frame, its child frames in it


# Solidity's Panic(uint256) codes as geth's abi.UnpackRevert words them
PANIC_REASONS = {
    0x00: "generic panic", 0x01: "assert(false)", 0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero", 0x21: "enum overflow", 0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array", 0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory", 0x51: "uninitialized function",
}


def revert_reason(output: bytes) -> str | None:
    """The `Error(string)` or `Panic(uint256)` reason of revert data, None for other data (geth's
    `abi.UnpackRevert`)."""
    if output[:4] == bytes.fromhex("08c379a0") and len(output) >= 68:
        length = int.from_bytes(output[36:68], "big")
        return output[68:68 + length].decode("utf-8", "replace")
    if output[:4] == bytes.fromhex("4e487b71") and len(output) == 36:
        code = int.from_bytes(output[4:], "big")
        return PANIC_REASONS.get(code, f"unknown panic code: {code:#x}")
    return None


def _revert_message(output: bytes) -> str:
    """`execution reverted`, with `: <reason>` when the data carries one (geth wording)."""
    reason = revert_reason(output)
    return "execution reverted" if reason is None else f"execution reverted: {reason}"


def simulate(state: StateAPI, rules: IsthmusRules, chain_id: int, req: CallRequest, gas: int,
             overrides: dict[bytes, AccountOverride] | None = None, tracer: OpcodeHook | None = None) -> CallResult:
    """Execute `req` with `gas` on `state` and revert everything, the MegaETH meters' carried compute limit
    included. Without fee fields the call pays the base fee with balance credited for the occasion, so the
    balance only has to cover `value`. `gas_used` is what the receipt would say; `tracer` sees every opcode
    (the executor's per-opcode hook). A native run that cannot vouch for itself is redone interpreted."""
    rex = getattr(state, "rex", None)
    if rex is None:
        return _simulate(state, rules, chain_id, req, gas, overrides, tracer)
    carried = rex.compute_limit
    try:
        return interpreted_on_abort(state, lambda: _simulate(state, rules, chain_id, req, gas, overrides, tracer))
    finally:
        rex.compute_limit = carried


def _simulate(state: StateAPI, rules: IsthmusRules, chain_id: int, req: CallRequest, gas: int,
              overrides: dict[bytes, AccountOverride] | None, tracer: OpcodeHook | None) -> CallResult:
    base_fee = state.execution_context.base_fee_per_gas
    fee = max(req.max_fee_per_gas or 0, base_fee)
    sender = Address(req.sender)
    state.lock_changes()  # a transaction boundary: SSTORE's "original" values are the current ones
    snapshot = state.snapshot()
    try:
        if overrides:  # journaled like the call itself, so the revert below removes them too
            apply_overrides(state, overrides)
        unsigned = _carrier(req, chain_id, state.get_nonce(sender), min(req.max_priority_fee_per_gas, fee), fee, gas)
        tx = SpoofTransaction(unsigned.as_signed_transaction(_CARRIER_KEY), sender=sender)
        if req.max_fee_per_gas is None:
            state.delta_balance(sender, gas * fee)
        rules.before_transaction(state, tx)
        hook = _trace_hook(state) if tracer is not None else None
        try:
            if hook is not None:
                hook.trace = tracer
            computation = state.apply_transaction(tx)
        except (NativeAbort, TraceAborted):
            raise
        except Exception as e:  # py-evm ValidationError and executor checks: the request is not executable
            if "balance" in str(e).lower():
                raise InsufficientFunds(f"insufficient funds for gas * price + value: {e}") from e
            raise InvalidTransaction(str(e)) from e
        finally:
            if hook is not None:
                hook.trace = None
        gas_used = rules.vm_class.finalize_gas_used(tx, computation)
        if computation.is_error:
            output = b"" if computation.error.burns_gas else computation.output
            return CallResult(False, gas_used, output, vm_error(computation.error), computation)
        return CallResult(True, gas_used, computation.output, "", computation)
    finally:
        state.revert(snapshot)


def _carrier(req: CallRequest, chain_id: int, nonce: int, tip: int, fee: int, gas: int) -> Any:
    """The unsigned transaction a request runs as: EIP-1559, or EIP-7702 with its authorizations."""
    builder = OpVM.get_transaction_builder()
    access = [(Address(a), [int.from_bytes(k, "big") for k in ks]) for a, ks in req.access_list]
    if not req.authorization_list:
        return builder.new_unsigned_dynamic_fee_transaction(
            chain_id, nonce, tip, fee, gas, Address(req.to) if req.to else CREATE_CONTRACT_ADDRESS, req.value,
            req.data, access)
    if req.to is None:
        raise InvalidTransaction("set code transaction cannot create a contract")
    return builder.new_unsigned_set_code_transaction(  # type: ignore[attr-defined]
        chain_id, nonce, tip, fee, gas, Address(req.to), req.value, req.data, access,
        [EvmAuthorization(a.chain_id, Address(a.address), a.nonce, a.y_parity, a.r, a.s)
         for a in req.authorization_list])


def _trace_hook(state: StateAPI) -> Any:
    """The object whose `trace` attribute the opcode loop calls before each opcode (the Rex meters)."""
    hook = getattr(state, "rex", None)
    if hook is None:
        raise NotImplementedError("opcode tracing needs the MegaETH (Rex) executor")
    return hook


def call(state: StateAPI, rules: IsthmusRules, chain_id: int, req: CallRequest, gas_cap: int,
         overrides: dict[bytes, AccountOverride] | None = None) -> bytes:
    """`eth_call`: the return data, or ExecutionReverted (code 3) with the revert bytes."""
    res = simulate(state, rules, chain_id, req, min(req.gas or gas_cap, gas_cap), overrides)
    if not res.success:
        if res.output or "revert" in res.error.lower():
            raise ExecutionReverted(_revert_message(res.output), res.output)
        raise InvalidTransaction(f"execution failed: {res.error}")
    return res.output


def estimate_gas(state: StateAPI, rules: IsthmusRules, chain_id: int, req: CallRequest, gas_cap: int,
                 overrides: dict[bytes, AccountOverride] | None = None) -> int:
    """Binary search for the lowest gas limit that succeeds, through every gas dimension the executor applies;
    `overrides` as in `call`. With a fee cap, the search stops at the gas the sender's balance can pay for."""
    hi = min(req.gas or gas_cap, gas_cap, _affordable_gas(state, req, overrides))
    top = simulate(state, rules, chain_id, req, hi, overrides)
    if not top.success:
        if top.output or "revert" in top.error.lower():
            raise ExecutionReverted(_revert_message(top.output), top.output)
        raise InvalidTransaction(f"gas required exceeds allowance ({hi})")
    lo = top.gas_used - 1
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        try:
            ok = simulate(state, rules, chain_id, req, mid, overrides).success
        except InvalidTransaction:
            ok = False
        if ok:
            hi = mid
        else:
            lo = mid
    return hi


def _affordable_gas(state: StateAPI, req: CallRequest, overrides: dict[bytes, AccountOverride] | None) -> int:
    """geth's allowance cap: `(balance − value) // fee cap` when the request names a fee cap (a wallet that
    fills in fees before estimating), else unbounded; raises InsufficientFunds when the value alone is more
    than the balance."""
    if not req.max_fee_per_gas:
        return 2**64
    override = (overrides or {}).get(req.sender)
    balance = override.balance if override is not None and override.balance is not None \
        else state.get_balance(Address(req.sender))
    if req.value > balance:
        raise InsufficientFunds("insufficient funds for transfer")
    return (balance - req.value) // req.max_fee_per_gas


def _word(v: int | bytes) -> int:
    return v if isinstance(v, int) else int.from_bytes(v, "big")


class AccessListTracer:
    """geth's access-list tracer (`eth/tracers/logger/access_list_tracer.go`): the slots SLOAD/SSTORE touch and
    the accounts BALANCE, EXTCODE*, SELFDESTRUCT and CALL* touch, starting from a given list. `excluded`
    accounts (sender, recipient, precompiles) are listed only when one of their slots is."""

    def __init__(self, start: AccessList, excluded: frozenset[bytes]) -> None:
        self.excluded = excluded
        self.addresses: set[bytes] = set()
        self.slots: dict[bytes, set[bytes]] = {}
        for address, keys_ in start:
            self._address(address)
            for key in keys_:
                self.slots.setdefault(address, set()).add(key)

    def _address(self, address: bytes) -> None:
        if address not in self.excluded:
            self.addresses.add(address)

    def __call__(self, computation: Any, opcode: int, pc: int) -> None:
        stack = computation._stack.values
        if opcode in _SLOT_OPS and stack:
            slot = _word(stack[-1]).to_bytes(32, "big")
            self.slots.setdefault(bytes(computation.msg.storage_address), set()).add(slot)
        elif opcode in _ADDRESS_OPS and stack:
            self._address((_word(stack[-1]) & (1 << 160) - 1).to_bytes(20, "big"))
        elif opcode in _CALL_OPS and len(stack) >= 5:
            self._address((_word(stack[-2]) & (1 << 160) - 1).to_bytes(20, "big"))

    def access_list(self) -> AccessList:
        """Sorted by address, each account's slots sorted (geth sorts both)."""
        return tuple((a, tuple(sorted(self.slots.get(a, ())))) for a in sorted(self.addresses | set(self.slots)))


@dataclass(frozen=True, slots=True)
class AccessListResult:
    access_list: AccessList
    gas_used: int
    error: str  # the execution error with the final list ("" when the call succeeded)


def create_access_list(state: StateAPI, rules: IsthmusRules, chain_id: int, req: CallRequest,
                       gas_cap: int) -> AccessListResult:
    """`eth_createAccessList` as geth's `AccessList`: run the call with the tracer, feed the list it found back
    in as the call's access list, and stop when a run finds nothing new; gas used is with that list."""
    gas = min(req.gas or gas_cap, gas_cap)
    to = req.to or generate_contract_address(Address(req.sender), state.get_nonce(Address(req.sender)))
    excluded = frozenset({req.sender, to, *map(bytes, state.computation_class.get_precompiles())})
    current = AccessListTracer(req.access_list, excluded).access_list()
    for _ in range(MAX_ACCESS_LIST_ROUNDS):
        tracer = AccessListTracer(current, excluded)
        res = simulate(state, rules, chain_id, replace(req, access_list=current), gas, tracer=tracer)
        found = tracer.access_list()
        if found == current:
            return AccessListResult(current, res.gas_used, res.error)
        current = found
    raise InvalidTransaction(f"access list did not settle after {MAX_ACCESS_LIST_ROUNDS} rounds")

