"""MegaETH MiniRex, Rex, Rex1 and Rex2 execution on py-evm: the rules of `gas/` wired into the Isthmus executor.

Spec: shared/spec/mega-evm.md (section numbers "§n" below). What lives where:

* `RexMeters` — the block-scoped resource state of upstream's `AdditionalLimit` + volatile-access tracker:
  compute-gas limit (block-scoped under Rex, the §6.4 carry-over), per-tx compute gas, data size / KV /
  state-growth meter, the sticky "limit exceeded" flag and the rescued gas (§4, §6).
* `RexComputation` — the instruction table (§5, §3.2): storage gas before SSTORE / LOG / value CALL /
  CREATE, compute-gas recording around every opcode, 98/100 forwarding, SELFDESTRUCT invalid, oracle SLOAD
  cold, detention after volatile opcodes; frame hooks (oracle detention at frame init, code-deposit storage
  gas, limit checks, rescue of the remaining gas of every frame that unwinds after a limit was crossed).
* `RexTransactionExecutor` — tx-level rules (§3.1): MegaETH intrinsic gas and validation, tx-level storage
  gas, 110/token floor, receipt gas after a limit halt (§4.7).
* `RexRules` — the rule set `apply_block` uses: per-tx reset (§3 step 2) and the pre-block system calls'
  detention (§6.4 item 1).

The specs differ by their gas schedule (`gas.schedule.SCHEDULE`, read through `RexMeters.spec`) and by the
instruction table: MiniRex's leaves CALLCODE, DELEGATECALL and STATICCALL unwrapped, Rex2's has SELFDESTRUCT
back with EIP-6780 semantics and compute gas only (`MiniRexVM`, `Rex2VM`); from Rex2 a tx's call to
KeylessDeploy is intercepted (`executor.keyless`).

Costs come from `gas/`; this module only measures gas deltas and moves them between py-evm's gas meters.
Compute gas of one opcode is `gas_before − gas_after` (minus the child gas limit for CALL*/CREATE*), as
`gas.opcodes.metered_compute_gas` defines it; the hot opcode loop inlines that subtraction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from eth._utils.address import force_bytes_to_address, generate_contract_address, generate_safe_contract_address
from eth._utils.state import code_is_delegation_designation
from eth.abc import ComputationAPI, MessageAPI, SignedTransactionAPI, StateAPI, TransactionContextAPI
from eth.constants import CREATE_CONTRACT_ADDRESS, GAS_LOGDATA, GAS_LOGTOPIC, STACK_DEPTH_LIMIT
from eth.constants import GAS_CALLSTIPEND, GAS_CALLVALUE, GAS_NEWACCOUNT
from eth.exceptions import ContractCreationCollision, Halt, InsufficientFunds, OutOfGas, Revert, StackDepthLimit
from eth.exceptions import VMError, WriteProtection
from eth.vm.computation import BaseComputation
from eth.vm.forks.berlin import constants as berlin_constants
from eth.vm.forks.berlin.logic import _account_load_cost, _mark_address_warm
from eth.vm.forks.london.storage import GAS_SCHEDULE_EIP3529, sstore_eip3529
from eth.vm.forks.prague.logic import CallCodeEIP7702, CallEIP7702, DelegateCallEIP7702, StaticCallEIP7702
from eth.vm.logic.call import BaseCall, max_child_gas_eip150
from eth.vm.logic.invalid import InvalidOpcode
from eth.vm.logic.logging import log_XX
from eth.vm.message import Message
from eth.vm.opcode_values import STOP
from eth_keys import keys
from gas.detention import (
    BLOCK_ENV_OPCODES,
    VolatileAccess,
    VolatileTracker,
    apply_detention,
    block_start_compute_limit,
    is_beneficiary_access,
    is_oracle_access,
    mark_access,
    tx_start_compute_limit,
    tx_start_tracker,
)
from gas.limits import (
    CREATED_ACCOUNT,
    LimitKind,
    Meter,
    Usage,
    code_deposit_usage,
    exceeded_limit,
    halt_reason,
    log_usage,
    native_rooms,
    sstore_usage,
    tx_limits,
    tx_start_usage,
)
from gas.opcodes import call_is_wrapped, forward_gas, metered_compute_gas, selfdestruct_allowed, sload_is_cold
from gas.schedule import CALL, CALLCODE, CREATE, CREATE2, DELEGATECALL, MIN_BUCKET_SIZE, SELFDESTRUCT, STATICCALL
from gas.spec import Spec
from gas.storage import (
    call_new_account_storage_gas,
    code_deposit_storage_gas,
    code_size_allowed,
    create_storage_gas,
    initcode_size_allowed,
    log_storage_gas,
    sstore_storage_gas,
)
from gas.system import BASE_FEE_VAULT_ADDRESS, BEACON_ROOTS_ADDRESS, HISTORY_STORAGE_ADDRESS, L1_FEE_VAULT_ADDRESS
from gas.system import OPERATOR_FEE_VAULT_ADDRESS, keyless_deploy_args
from gas.tx import InvalidTxGas, Outcome, TxGasInputs, floor_gas, intrinsic_gas, tx_gas_used, tx_storage_gas
from gas.tx import validate_tx_gas

from megaeth_node.executor.fastops import analyse, fast_table
from megaeth_node.executor.keyless import keyless_deploy
from megaeth_node.executor.op import OpState, OpTransactionExecutor, OpVM, is_deposit
from megaeth_node.executor.rex_precompiles import rex_precompiles
from megaeth_node.executor.rules import IsthmusRules
from megaeth_node.executor.state import KECCAK_EMPTY, account_key, storage_key
from megaeth_node.executor.transact import InvalidTransaction

DELEGATION_PREFIX = b"\xef\x01\x00"
BALANCE, EXTCODESIZE, EXTCODECOPY, EXTCODEHASH, SELFBALANCE = 0x31, 0x3B, 0x3C, 0x3F, 0x47
SLOAD, SSTORE, LOG0 = 0x54, 0x55, 0xA0
ACCOUNT_DETENTION_OPCODES = (BALANCE, EXTCODESIZE, EXTCODECOPY, EXTCODEHASH)
_PLAIN_WRAPPERS = frozenset({SLOAD})  # replaced opcodes that only charge gas (no storage gas, no meters)
_SSTORE_SCHEDULE = GAS_SCHEDULE_EIP3529  # the standard SSTORE's net gas (Cancun/Prague)


class LimitExceeded(OutOfGas):
    """A MegaETH resource limit stopped the frame: an OutOfGas halt whose remaining gas was rescued (§4.7)."""


# ---------------------------------------------------------------------------------------------------------
# Block-scoped meters
# ---------------------------------------------------------------------------------------------------------


class RexMeters:
    """Upstream `AdditionalLimit` + `VolatileDataAccessTracker` + bucket-multiplier cache, one per block."""

    def __init__(self, spec: Spec, coinbase: bytes, bucket_capacity: Callable[[bytes], int]) -> None:
        self.spec = spec
        self.coinbase = coinbase
        self._bucket_capacity = bucket_capacity
        self._capacities: dict[bytes, int] = {}
        self.compute_limit = block_start_compute_limit(spec)
        self._limits = tx_limits(spec, self.compute_limit)  # for the current compute limit (`check`)
        self.trace: Callable[..., None] | None = None
        self.native = True  # compiled contracts may run natively (off while a transaction is re-run interpreted)
        self.start_tx(None, None, 0, (), 0, 0)

    def start_tx(self, sender: bytes | None, to: bytes | None, input_length: int,
                 access_list_keys: tuple[int, ...], authorizations: int, recovered_authorities: int) -> None:
        """`on_new_tx` (§3 step 2): fresh tracker and meters; the compute limit is reset only from Rex1 on
        (§6.4). `sender is None` is a pre-block system call (no tx-start data, no beneficiary check)."""
        self.carried_limit = self.compute_limit  # what `start_tx` of a re-run of this tx starts from
        self.compute_limit = tx_start_compute_limit(self.spec, self.compute_limit)
        self.compute_used = 0
        self.ran_native = False  # a frame of this tx ran native code (executor.rex_native)
        self.exceeded: LimitKind | None = None
        self.deferred = False  # a detention just lowered the limit below the compute used: halt one opcode on
        self.rescued = 0
        self.touched: set[bytes] = set()  # warm-preloaded accounts revm's journal has loaded this tx
        self.loaded_untouched: frozenset[bytes] = frozenset()  # see `loaded_untouched` (KeylessDeploy's merge)
        self.cold_inspected: set[bytes] = set()  # ...of which the first load was a wrapper's inspection
        if sender is None:
            self.tracker = VolatileTracker()
            self.meter = Meter()
            return
        self.tracker = tx_start_tracker(self.spec, sender, to, self.coinbase)
        self.meter = Meter(tx_start_usage(input_length, access_list_keys, authorizations, recovered_authorities))

    # --- buckets ---

    def capacity(self, plain_key: bytes) -> Callable[[], int]:
        """Lazy bucket capacity of a plain key (looked up only when a charge is due, §5.1)."""
        def lookup() -> int:
            cap = self._capacities.get(plain_key)
            if cap is None:
                cap = self._capacities[plain_key] = self._bucket_capacity(plain_key)
            return cap
        return lookup

    # --- limits ---

    def check(self) -> bool:
        """`check_limit`: sticky; True once any tx limit is exceeded (§4.7)."""
        if self.exceeded is None:
            limits = self._limits
            if limits.compute_gas != self.compute_limit:  # detention lowered it: rebuild (rare)
                limits = self._limits = tx_limits(self.spec, self.compute_limit)
            m = self.meter
            # the running totals within the (non-negative) limits: so is their clamped usage, nothing to find
            if (m.data_size > limits.data_size or m.kv_updates > limits.kv_updates
                    or self.compute_used > limits.compute_gas or m.state_growth > limits.state_growth):
                self.exceeded = exceeded_limit(m.usage(), self.compute_used, limits)
        return self.exceeded is not None

    def record_usage(self, change: Usage) -> bool:
        self.meter.record(change)
        return self.check()

    def native_rooms(self) -> tuple[int, int]:
        """First writes of a slot and LOG data bytes the tx can still record unchecked (`gas.limits.native_rooms`)."""
        return native_rooms(self.meter, self._limits)

    def mark(self, access: VolatileAccess) -> None:
        self.tracker = mark_access(self.spec, self.tracker, access)

    def detain(self) -> None:
        """A detention point: the compute limit drops to the tracker's cap (§6.1)."""
        self.compute_limit = apply_detention(self.tracker, self.compute_limit)

    @property
    def halt_reason(self) -> str | None:
        return None if self.exceeded is None else halt_reason(self.exceeded, bool(self.tracker.accessed))


def _meters(computation: ComputationAPI) -> RexMeters:
    return computation.state.rex  # type: ignore[attr-defined, no-any-return]


def _peek_int(computation: Any, n: int) -> int:
    value = computation._stack.values[-1 - n]
    return value if isinstance(value, int) else int.from_bytes(value, "big")


def _stack_len(computation: Any) -> int:
    return len(computation._stack.values)


def delegate_account(state: StateAPI, address: bytes) -> bytes:
    """The account upstream's `inspect_account_delegated` looks at: the 7702 delegate, else `address`."""
    code = state.get_code(address)
    if len(code) == 23 and code.startswith(DELEGATION_PREFIX):
        return code[3:]
    return address


def is_empty_account(state: StateAPI, address: bytes) -> bool:
    """State-clear-aware emptiness (EIP-161): missing, or no nonce, balance and code."""
    return not state.account_exists(address) or state.account_is_empty(address)


def _inspect_account(state: Any, address: bytes) -> None:
    """Upstream's CALL-family wrappers `inspect_account_delegated(to)` before the standard opcode. An account
    revm has not loaded yet this tx is inserted into its journal *cold*, which also holds for the warm-
    preloaded coinbase (EIP-3651) and precompiles: the standard CALL then pays the cold 2,600
    (mega-evm `evm/instructions.rs` `JournalInspectTr::inspect_account_delegated`)."""
    rex: RexMeters = state.rex
    for account in {address, delegate_account(state, address)}:
        if account not in rex.touched and state.is_preloaded_warm(account):
            rex.cold_inspected.add(account)
        rex.touched.add(account)


def _limit_halt(computation: Any, rex: RexMeters) -> None:
    """Stop the frame after a limit was crossed: rescue its remaining gas, halt OutOfGas (§4.7)."""
    rex.check()
    rex.rescued += computation._gas_meter.gas_remaining
    raise LimitExceeded(f"MegaETH limit exceeded: {rex.exceeded}")


def settle(computation: Any, rex: RexMeters, used: int) -> None:
    """Count `used` gas (if any) as compute gas, then halt the frame if a MegaETH limit is exceeded (§4.1, §4.7);
    after a detention that lowered the limit below what is used, the next opcode still runs (`_record_then_detain`)."""
    if used > 0:
        rex.compute_used += used
    if rex.compute_used > rex.compute_limit or rex.exceeded is not None:
        if rex.deferred and rex.exceeded is None:
            rex.deferred = False
            return
        _limit_halt(computation, rex)


# ---------------------------------------------------------------------------------------------------------
# Opcode wrappers (§5.2, §6.1). Each wrapper charges MegaETH storage gas *before* the standard opcode and
# then restarts the compute-gas window (`_op_start`), so storage gas is never compute gas (§4.1).
# ---------------------------------------------------------------------------------------------------------

Op = Callable[..., None]


def _standard_sstore(computation: Any, address: bytes, slot: int, new: int, original: int, current: int) -> None:
    """The standard SSTORE after the stack and storage reads (py-evm's London `sstore_eip3529`, inlined):
    the EIP-2200 stipend check and net gas with EIP-3529 refunds, the write, then EIP-2929's cold surcharge."""
    if computation.msg.is_static:
        raise WriteProtection("Cannot modify state while inside of a STATICCALL context")
    meter = computation._gas_meter
    if meter.gas_remaining <= 2300:
        raise OutOfGas("Net-metered SSTORE always fails below 2300 gas, per EIP-2200", meter.gas_remaining)
    del computation._stack.values[-2:]
    s = _SSTORE_SCHEDULE
    refund = 0
    if current == new:
        cost = s.sload_gas
    elif original == current:
        cost = s.sstore_set_gas if original == 0 else s.sstore_reset_gas
        if original != 0 and new == 0:
            refund += s.sstore_clears_schedule
    else:
        cost = s.sload_gas
        if original != 0:
            if current == 0:
                refund -= s.sstore_clears_schedule
            if new == 0:
                refund += s.sstore_clears_schedule
        if original == new:
            refund += (s.sstore_set_gas if original == 0 else s.sstore_reset_gas) - s.sload_gas
    meter.consume_gas(cost, "SSTORE")
    if refund:
        meter.refund_gas(refund)
    state = computation.state
    state.set_storage(address, slot, new)
    if not state.is_storage_warm(address, slot):
        state.mark_storage_warm(address, slot)
        meter.consume_gas(berlin_constants.COLD_SLOAD_COST, "Implicit SLOAD during SSTORE")


@functools.cache  # one wrapper per base opcode: every spec's table holds it (native.py checks its identity)
def _sstore(inner: Op) -> Op:
    """Storage gas, then the standard SSTORE (`_standard_sstore`, which is `inner`'s logic), then the
    usage meters; `inner` itself only serves a stack underflow."""
    if not (inner.gas_cost == 0 and getattr(inner.logic_fn, "__wrapped__", None) is sstore_eip3529):
        raise TypeError("the Rex SSTORE wrapper inlines py-evm's London SSTORE; the base table has another")

    def sstore(computation: Any) -> None:
        if _stack_len(computation) < 2:
            return inner(computation=computation)
        rex = _meters(computation)
        state = computation.state
        address = computation.msg.storage_address
        slot, new = _peek_int(computation, 0), _peek_int(computation, 1)
        original = state.get_storage(address, slot, from_journal=False)
        current = state.get_storage(address, slot)
        # upstream reads the slot through `inspect_storage`, which resolves a 7702-delegated storage
        # context to its delegate's journal entry, seeded from the DB value: (original, original).
        present = original if delegate_account(state, address) != address else current

        def capacity() -> int:  # the slot's bucket, keyed only when a charge is due
            return rex.capacity(storage_key(address, slot))()
        charge = sstore_storage_gas(rex.spec, original, present, new, capacity)
        if charge.storage:
            computation.consume_gas(charge.storage, reason="SSTORE storage gas")
        computation._op_start = computation._gas_meter.gas_remaining
        _standard_sstore(computation, address, slot, new, original, current)
        rex.record_usage(sstore_usage(original, present, new))
    return sstore


def _log_storage_gas(computation: Any, rex: RexMeters, topics: int, size: int) -> None:
    """LOGn's storage gas, then the compute-gas window restarts past it (§4.1)."""
    charge = log_storage_gas(rex.spec, topics, size)
    if charge.storage:
        computation.consume_gas(charge.storage, reason=f"LOG{topics} storage gas")
    computation._op_start = computation._gas_meter.gas_remaining


def _log_static(computation: Any, static_gas: int) -> None:
    """LOGn's static gas, then py-evm's `ensure_no_static` check."""
    computation._gas_meter.consume_gas(static_gas, "LOG")
    if computation.msg.is_static:
        raise WriteProtection("Cannot modify state while inside of a STATICCALL context")


def rex_log(computation: Any, rex: RexMeters, topics: int, static_gas: int, start: int, size: int,
            topic_words: list[int]) -> None:
    """LOGn (§5.2) with its arguments off the stack: storage gas, the standard LOG (py-evm's `log_XX` behind
    `ensure_no_static`, inlined: static gas, the static-call check, data and topic gas, memory, the entry),
    then the data-size meter."""
    _log_storage_gas(computation, rex, topics, size)
    _log_static(computation, static_gas)
    computation._gas_meter.consume_gas(GAS_LOGDATA * size + GAS_LOGTOPIC * topics, "Log topic and data gas cost")
    computation.extend_memory(start, size)
    computation._log_entries.append((computation.transaction_context.get_next_log_counter(),
                                     computation.msg.storage_address, tuple(topic_words),
                                     computation._memory.read_bytes(start, size)))
    rex.record_usage(log_usage(topics, size))


@functools.cache  # as `_sstore`
def _log(topics: int, inner: Op) -> Op:
    """`rex_log` with the arguments popped; `inner` (py-evm's LOGn) serves a stack underflow."""
    logic = getattr(inner.logic_fn, "__wrapped__", None)
    if not (getattr(logic, "func", None) is log_XX and logic.keywords == {"topic_count": topics}):
        raise TypeError("the Rex LOG wrapper inlines py-evm's log_XX; the base table has another")
    static_gas = inner.gas_cost

    def log(computation: Any) -> None:
        values = computation._stack.values
        if len(values) < 2:
            return inner(computation=computation)
        rex = _meters(computation)
        if len(values) < 2 + topics:  # upstream reads the length, charges storage and static gas, then underflows
            _log_storage_gas(computation, rex, topics, _peek_int(computation, 1))
            _log_static(computation, static_gas)
            return log_XX(computation, topics)  # raises py-evm's InsufficientStack
        args = [v if isinstance(v, int) else int.from_bytes(v, "big") for v in values[-1:-3 - topics:-1]]
        del values[-2 - topics:]
        rex_log(computation, rex, topics, static_gas, args[0], args[1], args[2:])
    return log


def _call(opcode: int, inner: Op, wrapped: bool = True) -> Op:
    """The CALL-family wrapper (§5.2): the beneficiary mark, then, if `wrapped` (`gas.opcodes.call_is_wrapped`),
    `inspect_account_delegated(to)` and a value CALL's new-account storage gas, then the standard opcode:
    `standard_call`, which stands for `inner` (py-evm's Prague opcode) where the stack holds all its arguments;
    `inner` serves a stack underflow. The beneficiary mark is the host's account load, so unwrapped calls
    make it too."""
    if type(inner).__call__ is not BaseCall.__call__ or inner.gas_cost or type(inner).mro()[1] is not _STANDARD[opcode]:
        raise TypeError(f"the Rex CALL wrapper inlines py-evm's {_STANDARD[opcode].__name__}; "
                        "the base table has another")
    has_value = opcode in (CALL, CALLCODE)
    arity = 7 if has_value else 6

    def call(computation: Any) -> None:
        computation._rex_opcode = opcode
        values = computation._stack.values
        if len(values) < (3 if has_value else 2):
            return inner(computation=computation)
        rex = _meters(computation)
        to = force_bytes_to_address(_peek_int(computation, 1).to_bytes(32, "big"))
        if is_beneficiary_access(to, rex.coinbase):  # the CALL's `load_account_delegated(to)` (host.rs)
            rex.mark(VolatileAccess.BENEFICIARY_BALANCE)
        if wrapped:
            _inspect_account(computation.state, to)
        if has_value and wrapped:
            value = _peek_int(computation, 2)
            if value:
                empty = is_empty_account(computation.state, delegate_account(computation.state, to))
                charge = call_new_account_storage_gas(rex.spec, opcode, value, empty, rex.capacity(account_key(to)))
                if charge.storage:
                    computation.consume_gas(charge.storage, reason="new account storage gas")
        computation._op_start = computation._gas_meter.gas_remaining
        if len(values) < arity:
            return inner(computation=computation)  # underflows as py-evm does
        args = [v if isinstance(v, int) else int.from_bytes(v, "big") for v in values[-1:-1 - arity:-1]]
        del values[-arity:]
        if not has_value:
            args.insert(2, 0)
        standard_call(computation, opcode, *args)
    return call


def _load_account(computation: Any, address: bytes, mnemonic: str) -> None:
    """EIP-2929's implicit account load of a CALL's code source (py-evm's `consume_account_load_gas`): 2,600 if
    cold (then warm), else 100."""
    cost = _account_load_cost(_mark_address_warm(computation, address))
    computation.consume_gas(cost, reason=f"{mnemonic} charges implicit account load for reading code")


def standard_call(computation: Any, opcode: int, gas: int, target: int, value: int, in_start: int, in_size: int,
                  out_start: int, out_size: int) -> None:
    """py-evm's Prague CALL / CALLCODE / DELEGATECALL / STATICCALL (`BaseCall.__call__` with the EIP-150, -161,
    -214, -2929 and -7702 parts of `CallEIP7702` and its kin) on its popped arguments (`value` 0 for the
    opcodes without one), in py-evm's order of charges, checks and state reads."""
    msg, state = computation.msg, computation.state
    mnemonic = _MNEMONICS[opcode]
    address = force_bytes_to_address(target.to_bytes(32, "big"))
    sender = code_address = None
    transfers, is_static = opcode in (CALL, CALLCODE), msg.is_static
    if opcode == CALL:
        to = address
        if is_static and value:
            raise WriteProtection("Cannot modify state while inside of a STATICCALL context")
    elif opcode == STATICCALL:
        to, is_static = address, True
    else:
        to, code_address = msg.storage_address, address
        if opcode == DELEGATECALL:
            sender, value = msg.sender, msg.value
        else:
            sender = msg.storage_address
    computation.extend_memory(in_start, in_size)
    computation.extend_memory(out_start, out_size)
    data = computation.memory_read_bytes(in_start, in_size)
    # get_code_at_address (EIP-2929 load, then EIP-7702: a delegation designator's delegate, loaded too)
    source = code_address or to
    _load_account(computation, source, mnemonic)
    code, delegation = state.get_code(source), None
    if code_is_delegation_designation(code):
        delegation = force_bytes_to_address(code[3:])
        _load_account(computation, delegation, mnemonic)
        code = state.get_code(delegation)
    # compute_msg_gas: EIP-150's all but one 64th after the extra gas (a value transfer; EIP-161's new account)
    extra = 0
    if transfers and value:
        extra = GAS_CALLVALUE
        if opcode == CALL and is_empty_account(state, to):
            extra += GAS_NEWACCOUNT
    remaining = computation.get_gas_remaining()
    if remaining < extra:
        raise OutOfGas(f"Out of gas: Needed {extra} - Remaining {remaining} - Reason: {mnemonic}")
    gas = min(gas, max_child_gas_eip150(remaining - extra))
    child_gas = gas + GAS_CALLSTIPEND if transfers and value else gas
    computation.consume_gas(gas + extra, reason=mnemonic)
    values = computation._stack.values
    poor = transfers and value and state.get_balance(msg.storage_address) < value
    if poor or msg.depth + 1 > STACK_DEPTH_LIMIT:
        computation.return_data = b""
        computation.return_gas(child_gas)
        values.append(0)
        _note_frameless(computation, opcode, address, value, data, child_gas,
                        InsufficientFunds() if poor else StackDepthLimit())
        return
    child_msg = _ChildMessage(child_gas, to, msg.storage_address if sender is None else sender, value, data, code,
                              msg.depth + 1, code_address=delegation or code_address, should_transfer_value=transfers,
                              is_static=is_static, is_delegation=delegation is not None, opcode=opcode,
                              target=address)
    child = computation.apply_child_computation(child_msg)
    values.append(0 if child.is_error else 1)
    if not child.should_erase_return_data:
        output = child.output
        size = min(out_size, len(output))
        computation._memory.write(out_start, size, output[:size])
    if child.should_return_gas:
        computation.return_gas(child.get_gas_remaining())


_STANDARD = {CALL: CallEIP7702, CALLCODE: CallCodeEIP7702, DELEGATECALL: DelegateCallEIP7702,
             STATICCALL: StaticCallEIP7702}
_MNEMONICS = {CALL: "CALL", CALLCODE: "CALLCODE", DELEGATECALL: "DELEGATECALL", STATICCALL: "STATICCALL"}


def _created_address(computation: Any, is_create2: bool) -> bytes:
    creator = computation.msg.storage_address
    if not is_create2:
        return generate_contract_address(creator, computation.state.get_nonce(creator))
    offset, length, salt = _peek_int(computation, 1), _peek_int(computation, 2), _peek_int(computation, 3)
    memory = computation._memory  # py-evm's Memory, or a native frame's (aot.host.FrameMemory): not yet extended
    present = min(len(memory), offset + length) - offset if offset < len(memory) else 0
    initcode = bytes(memory.read_bytes(offset, present) if present > 0 else b"").ljust(length, b"\x00")
    return generate_safe_contract_address(creator, salt, initcode)


def _create(opcode: int, inner: Op) -> Op:
    is_create2 = opcode == CREATE2

    def create(computation: Any) -> None:
        computation._rex_opcode = opcode
        if _stack_len(computation) < (4 if is_create2 else 3) or computation.msg.is_static:
            return inner(computation=computation)
        if is_create2 and max(_peek_int(computation, 1), _peek_int(computation, 2)) > 2**32:
            return inner(computation=computation)  # memory expansion halts it (upstream: as_usize_or_fail)
        rex = _meters(computation)

        def capacity() -> int:  # the created address's bucket, computed only when looked up
            return rex.capacity(account_key(_created_address(computation, is_create2)))()
        charge = create_storage_gas(rex.spec, capacity)
        if charge.storage:
            computation.consume_gas(charge.storage, reason="contract creation storage gas")
        computation._op_start = computation._gas_meter.gas_remaining
        inner(computation=computation)
    return create


class _RexCreateMixin:
    """py-evm's CREATE/CREATE2 with the 98/100 cap applied where the child gas is charged, so that a create
    that never gets a frame (address collision) burns the capped allowance only, and its compute gas is the
    opcode's own cost (upstream: `forward_gas_ext::create*` around `compute_gas_ext::create*`, §5.3)."""

    opcode_value = CREATE
    _child_gas = 0

    def _capped_child_gas(self, gas: int) -> int:
        """All but a 64th of `gas`, capped at 98/100 (§5.3)."""
        child = max_child_gas_eip150(gas)
        capped, _ = forward_gas(RexComputation.spec, self.opcode_value, child, gas - child)
        return capped

    def max_child_gas_modifier(self, gas: int) -> int:
        self._child_gas = self._capped_child_gas(gas)
        return self._child_gas

    def get_stack_data(self, computation: Any) -> Any:
        data = super().get_stack_data(computation)  # type: ignore[misc]
        computation._rex_create_data = data
        return data

    def generate_contract_address(self, stack_data: Any, call_data: bytes, computation: Any) -> bytes:
        address: bytes = super().generate_contract_address(stack_data, call_data, computation)  # type: ignore[misc]
        if computation.state.has_code_or_nonce(address):  # collision: no frame, the allowance is lost
            rex = _meters(computation)
            remaining = computation._gas_meter.gas_remaining
            rex.compute_used += metered_compute_gas(computation._op_start, remaining, self._child_gas).compute
            computation._op_start = remaining
            _note_frameless(computation, self.opcode_value, None, stack_data.endowment, call_data, self._child_gas,
                            ContractCreationCollision(), gas_used=self._child_gas)
        return address

    def __call__(self, computation: Any) -> None:
        """py-evm's; a create its checks refuse (value above the balance, depth, nonce) is noted frameless."""
        made = len(computation.children) + len(computation.frameless)
        super().__call__(computation)  # type: ignore[misc]
        if len(computation.children) + len(computation.frameless) == made:
            data = computation._rex_create_data
            msg = computation.msg
            if msg.depth + 1 > STACK_DEPTH_LIMIT:
                error: VMError = StackDepthLimit()
            elif computation.state.get_balance(msg.storage_address) < data.endowment:
                error = InsufficientFunds()
            else:
                error = VMError("nonce uint64 overflow")
            _note_frameless(computation, self.opcode_value, None, data.endowment,
                            computation.memory_read_bytes(data.memory_start, data.memory_length),
                            self._capped_child_gas(computation._gas_meter.gas_remaining), error)


def _selfdestruct(inner: Op) -> Op:
    """Rex2's SELFDESTRUCT (EIP-6780), noted frameless when it ends the frame: a call tracer reports it as a
    frame to the beneficiary moving the balance (geth's `opSelfdestruct6780`)."""
    def selfdestruct(computation: Any) -> None:
        if _stack_len(computation) < 1:
            return inner(computation=computation)
        beneficiary = force_bytes_to_address(_peek_int(computation, 0).to_bytes(32, "big"))
        balance = computation.state.get_balance(computation.msg.storage_address)
        try:
            inner(computation=computation)
        except Halt:
            _note_frameless(computation, SELFDESTRUCT, beneficiary, balance, b"", 0, None)
            raise
    return selfdestruct


def _rex_create_op(opcode: int, base_op: Any) -> Any:
    cls = type(f"Rex{type(base_op).__name__}", (_RexCreateMixin, type(base_op)), {"opcode_value": opcode})
    return cls()


def _block_env(access: VolatileAccess, inner: Op) -> Op:
    def block_env(computation: Any) -> None:
        inner(computation=computation)
        rex = _meters(computation)
        rex.mark(access)
        _record_then_detain(computation, rex)
    return block_env


def _account_access(inner: Op) -> Op:
    def account_access(computation: Any) -> None:
        address = None
        if _stack_len(computation) >= 1:
            address = force_bytes_to_address(_peek_int(computation, 0).to_bytes(32, "big"))
        inner(computation=computation)
        rex = _meters(computation)
        if address is not None and is_beneficiary_access(address, rex.coinbase):
            rex.mark(VolatileAccess.BENEFICIARY_BALANCE)
        _record_then_detain(computation, rex)
    return account_access


def _record_then_detain(computation: Any, rex: RexMeters) -> None:
    """The volatile wrapper sits outside the compute wrapper: record + check with the old limit, then
    lower the limit to the tracker's cap (upstream `wrap_op_detain_gas`). The lowered limit is checked when the
    next opcode records its compute gas, so that opcode runs and is charged first (`settle`, `deferred`)."""
    remaining = computation._gas_meter.gas_remaining
    used = computation._op_start - remaining
    if used > 0:
        rex.compute_used += used
    computation._op_start = remaining
    if rex.compute_used > rex.compute_limit:
        rex.check()
        return
    rex.detain()
    rex.deferred = rex.compute_used > rex.compute_limit


def _selfbalance(inner: Op) -> Op:
    def selfbalance(computation: Any) -> None:
        inner(computation=computation)
        rex = _meters(computation)
        if is_beneficiary_access(computation.msg.storage_address, rex.coinbase):
            rex.mark(VolatileAccess.BENEFICIARY_BALANCE)
    return selfbalance


def rex_sload(computation: Any) -> None:
    """EIP-2929 SLOAD, with the oracle's slots always cold (§5.2, host.rs `sload`)."""
    slot = computation.stack_pop1_int()
    state, address = computation.state, computation.msg.storage_address
    warm = state.is_storage_warm(address, slot)
    if not warm:
        state.mark_storage_warm(address, slot)
    cold = sload_is_cold(_meters(computation).spec, address, warm)
    cost = berlin_constants.COLD_SLOAD_COST if cold else berlin_constants.WARM_STORAGE_READ_COST
    computation.consume_gas(cost, reason="SLOAD")
    computation.stack_push_int(state.get_storage(address, slot))


def rex_opcodes(base: dict[int, Any], spec: Spec) -> dict[int, Any]:
    """The instruction table of `spec` (MiniRex … Rex2) over py-evm's Prague table (mega-evm
    `evm/instructions.rs` `mini_rex`, `rex`, `rex2`)."""
    table = dict(base)
    table[SSTORE] = _sstore(base[SSTORE])
    table[SLOAD] = rex_sload
    for n in range(5):
        table[LOG0 + n] = _log(n, base[LOG0 + n])
    for opcode in (CALL, CALLCODE, DELEGATECALL, STATICCALL):
        table[opcode] = _call(opcode, base[opcode], call_is_wrapped(spec, opcode))
    for opcode in (CREATE, CREATE2):
        table[opcode] = _create(opcode, _rex_create_op(opcode, base[opcode]))
    for opcode, access in BLOCK_ENV_OPCODES.items():
        if opcode in base:
            table[opcode] = _block_env(access, base[opcode])
    for opcode in ACCOUNT_DETENTION_OPCODES:
        table[opcode] = _account_access(base[opcode])
    table[SELFBALANCE] = _selfbalance(base[SELFBALANCE])
    table[SELFDESTRUCT] = _selfdestruct(base[SELFDESTRUCT]) if selfdestruct_allowed(spec) \
        else InvalidOpcode(SELFDESTRUCT)
    return table


# ---------------------------------------------------------------------------------------------------------
# Computation: opcode loop with compute metering, frame hooks
# ---------------------------------------------------------------------------------------------------------


def _no_result(computation: ComputationAPI) -> None:
    return None


class _StackMethod:
    """A `computation.stack_*` shortcut to the stack's method, kept on the computation at first use, as
    py-evm's `cached_property` does, without that package's coroutine check at every first use."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name, self.method = name, name.removeprefix("stack_")

    def __get__(self, computation: Any, owner: type | None = None) -> Any:
        if computation is None:
            return self
        method = computation.__dict__[self.name] = getattr(computation._stack, self.method)
        return method


class FramelessCall(NamedTuple):
    """An opcode a call tracer reports as a frame where py-evm starts none: a CALL-family or create opcode its
    checks refuse (value above the balance, the depth limit, a create's address collision), or a SELFDESTRUCT.
    It comes after the frame's first `position` calls; `target` is None for a create."""

    position: int
    opcode: int
    target: bytes | None
    value: int
    data: bytes
    gas: int
    error: VMError | None
    gas_used: int = 0


def _note_frameless(computation: Any, opcode: int, target: bytes | None, value: int, data: bytes, gas: int,
                    error: VMError | None, gas_used: int = 0) -> None:
    """Note a frameless call on `computation`, after the calls it has made so far."""
    position = len(computation.children) + len(computation.frameless)
    computation.frameless += (FramelessCall(position, opcode, target, value, bytes(data), gas, error, gas_used),)


class _ChildMessage(Message):
    """A child frame's message as CALL*/CREATE* build it, without `Message.__init__`'s field checks: every
    field comes from checked values (stack words, 20-byte addresses, gas within the parent's meter, bytes).
    It keeps the `opcode` that made it and, for the CALL family, the `target` address the opcode was given
    (what a call tracer reports)."""

    __slots__ = ("opcode", "target")

    def __init__(self, gas: int, to: bytes, sender: bytes, value: int, data: Any, code: bytes, depth: int,
                 create_address: bytes | None = None, code_address: bytes | None = None,
                 should_transfer_value: bool = True, is_static: bool = False, is_delegation: bool = False,
                 opcode: int = 0, target: bytes | None = None) -> None:
        self.gas, self.to, self.sender, self.value, self.data, self.code, self.depth = \
            gas, to, sender, value, data, code, depth
        self._storage_address, self._code_address = create_address, code_address
        self.should_transfer_value, self.is_static = should_transfer_value, is_static
        self._is_delegation, self.refund = is_delegation, 0
        self.opcode, self.target = opcode, target


class RexComputation(OpState.computation_class):  # type: ignore[misc, valid-type]
    """Prague computation with the Rex instruction table, compute metering and frame hooks (§3.2, §4)."""

    spec = Spec.REX
    opcodes = rex_opcodes(OpState.computation_class.opcodes, Spec.REX)
    frameless: tuple[FramelessCall, ...] = ()  # the frame's, in order (for call tracers)
    _precompiles = rex_precompiles(OpState.computation_class.get_precompiles())

    def __init__(self, state: StateAPI, message: MessageAPI, transaction_context: TransactionContextAPI) -> None:
        # BaseComputation's init, not Shanghai's: the coinbase is warm through `RexState.is_address_warm`
        # (preloaded, as in revm), not by a journaled mark at every frame.
        BaseComputation.__init__(self, state, message, transaction_context)
        self._op_start = 0
        self._rex_opcode = 0
        self._rex_remaining: int | None = None
        self._rex_before_deposit: int | None = None

    @staticmethod
    def native(code: bytes) -> Callable[[Any, RexMeters], None] | None:
        """A native runner `(computation, meters)` for `code`, or None to interpret (`executor.native.with_native`
        sets one)."""
        return None

    stack_pop_ints = _StackMethod()
    stack_pop_bytes = _StackMethod()
    stack_pop_any = _StackMethod()
    stack_pop1_int = _StackMethod()
    stack_pop1_bytes = _StackMethod()
    stack_pop1_any = _StackMethod()
    stack_push_int = _StackMethod()
    stack_push_bytes = _StackMethod()

    def prepare_child_message(self, gas: int, to: Any, value: int, data: Any, code: bytes,
                              **kwargs: Any) -> MessageAPI:
        """py-evm's (CREATE and CREATE2 build theirs with it), as a `_ChildMessage`."""
        kwargs.setdefault("sender", self.msg.storage_address)
        return _ChildMessage(gas, to, value=value, data=data, code=code, depth=self.msg.depth + 1,
                             opcode=self._rex_opcode, **kwargs)

    def extend_memory(self, start_position: int, size: int) -> None:
        """py-evm's, which validates both values and prices the memory before and after, skipped where the
        range is already inside memory (no expansion and no gas then; callers pass stack words)."""
        if start_position + size > len(self._memory) or start_position < 0 or size < 0:
            super().extend_memory(start_position, size)

    def get_gas_remaining(self) -> int:
        if self._rex_remaining is not None:  # the top frame of a limit-halted tx: the rescued gas (§4.7)
            return self._rex_remaining
        return super().get_gas_remaining()  # type: ignore[no-any-return]

    @classmethod
    def consume_initcode_gas_cost(cls, computation: ComputationAPI) -> None:
        """A create tx's initcode words are part of the intrinsic gas here, as in revm (§3.1)."""

    @classmethod
    def validate_create_message(cls, message: MessageAPI) -> None:
        if not initcode_size_allowed(cls.spec, len(message.code)):
            raise OutOfGas(f"initcode size {len(message.code)} exceeds the limit")

    @classmethod
    def validate_contract_code(cls, contract_code: bytes) -> None:
        if not code_size_allowed(cls.spec, len(contract_code)):
            raise OutOfGas(f"code size {len(contract_code)} exceeds the limit")
        super().validate_contract_code(contract_code[:1])  # EIP-3541 0xEF check only

    # --- child frames: CALL*/CREATE* compute recording and 98/100 forwarding (§4.1, §5.3) ---

    def apply_child_computation(self, child_msg: MessageAPI) -> ComputationAPI:
        rex = _meters(self)
        remaining = self._gas_meter.gas_remaining
        rex.compute_used += metered_compute_gas(self._op_start, remaining, child_msg.gas).compute
        if rex.compute_used > rex.compute_limit or rex.exceeded is not None:
            _limit_halt(self, rex)  # the charged child allowance is neither run nor rescued (§4.7)
        opcode = self._rex_opcode
        if opcode not in (CREATE, CREATE2):  # creates are capped when charged (_RexCreateMixin)
            value = child_msg.value if opcode in (CALL, CALLCODE) else 0
            child_gas, give_back = forward_gas(rex.spec, opcode, child_msg.gas, remaining, value)
            if give_back:
                self.return_gas(give_back)
            child_msg.gas = child_gas
        self._op_start = self._gas_meter.gas_remaining
        return super().apply_child_computation(child_msg)  # type: ignore[no-any-return]

    # --- frames ---

    @classmethod
    def _refused(cls, state: StateAPI, message: MessageAPI, ctx: TransactionContextAPI) -> ComputationAPI:
        """A frame not created because a limit is already exceeded: OutOfGas, its whole gas limit rescued."""
        rex = state.rex  # type: ignore[attr-defined]
        rex.rescued += message.gas
        rex.meter.exit_frame(False)
        computation = cls(state, message, ctx)
        computation.error = LimitExceeded(f"MegaETH limit exceeded before frame init: {rex.exceeded}")
        return computation

    @classmethod
    def apply_message(cls, state: StateAPI, message: MessageAPI, transaction_context: TransactionContextAPI,
                      parent_computation: ComputationAPI | None = None) -> ComputationAPI:
        rex: RexMeters = state.rex  # type: ignore[attr-defined]
        if message.is_create:  # the body of a create frame; its frame hooks run in apply_create_message
            computation = cls._frontier_message(state, message, transaction_context, parent_computation)
            if computation.is_success and computation.output:
                cls._code_deposit_storage_gas(computation, rex)
            return computation  # type: ignore[no-any-return]
        if is_oracle_access(rex.spec, message.storage_address, message.sender):
            rex.mark(VolatileAccess.ORACLE)
            rex.detain()
        if message.depth == 0 and rex.spec >= Spec.REX2:  # §3.2 frame_init step 2: KeylessDeploy's interception
            args = keyless_deploy_args(rex.spec, message.storage_address, message.data_as_bytes)
            if args is not None:
                return keyless_deploy(cls, state, message, transaction_context, *args)
        transfers = message.should_transfer_value and message.value != 0
        empty = transfers and is_empty_account(state, delegate_account(state, message.storage_address))
        rex.meter.enter_call(transfers, empty)
        if rex.check():
            return cls._refused(state, message, transaction_context)
        computation = cls._frontier_message(state, message, transaction_context, parent_computation)
        rex.meter.exit_frame(computation.is_success)
        return computation

    @classmethod
    def _frontier_message(cls, state: StateAPI, message: MessageAPI, ctx: TransactionContextAPI,
                          parent_computation: ComputationAPI | None) -> ComputationAPI:
        """py-evm's `FrontierComputation.apply_message` without its debug line, which hex-formats both
        addresses of every value transfer, logged or not: snapshot, depth check, value transfer, touch, the
        frame, then revert or commit."""
        snapshot = state.snapshot()
        if message.depth > STACK_DEPTH_LIMIT:
            raise StackDepthLimit("Stack depth limit reached")
        if message.should_transfer_value and message.value:
            sender_balance = state.get_balance(message.sender)
            if sender_balance < message.value:
                raise InsufficientFunds(f"Insufficient funds: {sender_balance} < {message.value}")
            state.delta_balance(message.sender, -1 * message.value)
            state.delta_balance(message.storage_address, message.value)
        state.touch_account(message.storage_address)
        computation = cls.apply_computation(state, message, ctx, parent_computation=parent_computation)
        if computation.is_error:
            state.revert(snapshot)
        else:
            state.commit(snapshot)
        return computation

    @classmethod
    def _code_deposit_storage_gas(cls, computation: Any, rex: RexMeters) -> None:
        """After a successful create frame's code (§3.2 `frame_run`): 10,000/byte storage gas (failing →
        OutOfGas), then the code size in the data-size meter; the standard deposit that follows is compute."""
        charge = code_deposit_storage_gas(rex.spec, len(computation.output)).storage
        try:
            computation.consume_gas(charge, reason="code deposit storage gas")
        except OutOfGas as e:
            computation.error = e
            return
        if rex.record_usage(code_deposit_usage(len(computation.output))):
            rex.rescued += computation._gas_meter.gas_remaining
            computation.error = LimitExceeded(f"MegaETH limit exceeded: {rex.exceeded}")
            return
        computation._rex_before_deposit = computation._gas_meter.gas_remaining

    @classmethod
    def apply_create_message(cls, state: StateAPI, message: MessageAPI,
                             transaction_context: TransactionContextAPI,
                             parent_computation: ComputationAPI | None = None) -> ComputationAPI:
        rex: RexMeters = state.rex  # type: ignore[attr-defined]
        rex.meter.enter_create()
        rex.meter.record(CREATED_ACCOUNT)
        if rex.check():
            return cls._refused(state, message, transaction_context)
        computation: Any = super().apply_create_message(state, message, transaction_context, parent_computation)
        before = computation._rex_before_deposit
        if before is not None:  # the standard 200/byte deposit processing is compute gas (§4.1)
            used = before - computation._gas_meter.gas_remaining
            if used > 0:
                rex.compute_used += used
            if computation.is_success and rex.compute_used > rex.compute_limit:
                rex.check()
                rex.rescued += computation._gas_meter.gas_remaining
                computation._error = LimitExceeded(f"MegaETH limit exceeded: {rex.exceeded}")
        rex.meter.exit_frame(computation.is_success)
        return computation  # type: ignore[no-any-return]

    @classmethod
    def _loop_table(cls) -> tuple[list[Any], list[bool]]:
        """The class's opcode table as `fastops` loop entries, and which opcodes are MegaETH wrappers
        (built once per class)."""
        cached = cls.__dict__.get("_loop_cache")
        if cached is None:
            base = OpState.computation_class.opcodes
            table = cls.opcodes
            special = [b in table and b not in _PLAIN_WRAPPERS and table[b] is not base.get(b) for b in range(256)]
            cached = (fast_table(table, InvalidOpcode), special)
            cls._loop_cache = cached
        return cached

    @classmethod
    def _run(cls, computation: Any, rex: RexMeters) -> None:
        """The opcode loop with the compute meter (upstream `compute_gas_ext`), metering runs of plain
        opcodes in bulk. Every opcode's compute gas is `gas_before − gas_after` (§4.1), and a plain
        opcode (not a MegaETH wrapper: no storage gas, no child frame, no detention) only ever lowers the
        gas, so the compute gas of a run of them is the gas the run consumed, and "compute used exceeds the
        limit after this opcode" is "remaining gas fell below `floor`". Wrappers run exactly as one opcode
        of `_run_traced`. Same charges, same halting opcode, same rescued gas."""
        if rex.compute_used > rex.compute_limit or rex.exceeded is not None:
            return cls._run_traced(computation, rex, None)  # halts after its first opcode
        table, special = cls._loop_table()
        meter = computation._gas_meter
        values = computation._stack.values
        computation._jumpdests, computation._pushes = analyse(computation.code._raw_code_bytes)
        window = meter.gas_remaining  # gas when the current run of plain opcodes started
        floor = window - (rex.compute_limit - rex.compute_used)
        gas = window
        try:
            for opcode in computation.code:
                gas = meter.gas_remaining  # before this opcode = after the previous one
                if gas < floor:  # the previous (plain) opcode crossed the compute limit
                    rex.compute_used += window - gas
                    window = gas
                    _limit_halt(computation, rex)
                if not special[opcode]:
                    table[opcode](computation, values, meter)
                    continue
                rex.compute_used += window - gas
                window = gas
                computation._op_start = gas
                try:
                    table[opcode](computation, values, meter)
                except (Halt, Revert):
                    window = meter.gas_remaining
                    settle(computation, rex, computation._op_start - window)
                    raise
                settle(computation, rex, computation._op_start - meter.gas_remaining)
                window = gas = meter.gas_remaining
                # over the limit only after a detention (settle halts otherwise): the next opcode runs, then halts
                floor = window - max(0, rex.compute_limit - rex.compute_used)
        except Halt:  # STOP / RETURN (or the end of the code): its gas is compute gas
            settle(computation, rex, window - meter.gas_remaining)
        except Revert:
            settle(computation, rex, window - meter.gas_remaining)
            raise
        except VMError:  # an exceptional halt: the failing opcode's gas is not compute gas (as in _run_traced)
            if window > gas:
                rex.compute_used += window - gas
            raise

    @classmethod
    def _run_traced(cls, computation: Any, rex: RexMeters, trace: Callable[[Any, int, int], None] | None) -> None:
        """The reference loop, one opcode at a time, calling `trace(computation, opcode, pc)` (if any) before
        each."""
        meter = computation._gas_meter
        opcode_lookup = computation.opcodes
        for pc, opcode in _opcodes(computation.code):
            try:
                opcode_fn = opcode_lookup[opcode]
            except KeyError:
                opcode_fn = InvalidOpcode(opcode)
            if trace is not None:
                trace(computation, opcode, pc)
            computation._op_start = meter.gas_remaining
            try:
                opcode_fn(computation=computation)
            except Halt:
                settle(computation, rex, computation._op_start - meter.gas_remaining)
                break
            except Revert:
                settle(computation, rex, computation._op_start - meter.gas_remaining)
                raise
            settle(computation, rex, computation._op_start - meter.gas_remaining)

    @classmethod
    def apply_computation(cls, state: StateAPI, message: MessageAPI, transaction_context: TransactionContextAPI,
                          parent_computation: ComputationAPI | None = None) -> ComputationAPI:
        """py-evm's loop plus the compute meter: after every opcode record `gas_before − gas_after` and halt
        once a limit is exceeded (upstream `compute_gas_ext`, `before_frame_run`)."""
        rex: RexMeters = state.rex  # type: ignore[attr-defined]
        with cls(state, message, transaction_context) as computation:
            if parent_computation is None:
                computation.contracts_created = []
            else:
                computation.contracts_created = parent_computation.contracts_created
            if message.is_create:
                computation.contracts_created.append(message.storage_address)

            precompile = computation.precompiles.get(message.code_address, _no_result)
            if precompile is not _no_result:
                if not message.is_delegation:
                    precompile(computation)  # errors propagate: revm records `gas.spent()` = 0 then
                    rex.compute_used += message.gas - computation._gas_meter.gas_remaining
                    if rex.compute_used > rex.compute_limit or rex.exceeded is not None:
                        _limit_halt(computation, rex)
                return computation

            runner = cls.native(message.code) if rex.native and not message.is_create else None
            if rex.trace is not None and message.code:  # a frame without code has no opcode to trace (geth)
                cls._run_traced(computation, rex, rex.trace)
            elif rex.compute_used > rex.compute_limit or rex.exceeded is not None:
                cls._run(computation, rex)
            elif runner is not None:
                runner(computation, rex)
            elif message.code:
                cls._run(computation, rex)
            # else no code (a call to an account without code): the frame's one STOP costs and does nothing
        _drop_tracebacks(computation._error)
        return computation



def _opcodes(code: Any) -> Iterator[tuple[int, int]]:
    """py-evm's `CodeStream` iteration (the opcode at the program counter, then STOP past the end), with each
    opcode's position: an opcode may move the counter (PUSH data, JUMP)."""
    raw = code._raw_code_bytes
    while True:
        pc = code.program_counter
        if pc >= len(raw):
            yield pc, STOP
            return
        code.program_counter = pc + 1
        yield pc, raw[pc]


def _drop_tracebacks(error: BaseException | None) -> None:
    """Forget the tracebacks of a frame's error (kept by py-evm's `__exit__`) and of the errors it chains:
    their frames hold the computation, a cycle only the garbage collector would free (~4,000 objects a block)."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        e = todo.pop()
        if e is not None and id(e) not in seen:
            seen.add(id(e))
            e.__traceback__ = None
            todo += (e.__cause__, e.__context__)


# ---------------------------------------------------------------------------------------------------------
# Transactions
# ---------------------------------------------------------------------------------------------------------


def _tx_list(tx: SignedTransactionAPI, name: str) -> tuple[Any, ...]:
    """A tx's access list / authorization list; () for tx types that have none (py-evm raises then)."""
    try:
        return tuple(getattr(tx, name, ()) or ())
    except NotImplementedError:
        return ()


_last_inputs: tuple[Any, TxGasInputs | None] = (None, None)


def tx_gas_inputs(tx: SignedTransactionAPI) -> TxGasInputs:
    """The gas-relevant shape of `tx` (asked for by validation, message, floor and receipt gas: kept for
    the last tx, which is immutable)."""
    global _last_inputs
    last, inputs = _last_inputs
    if last is tx and inputs is not None:
        return inputs
    access_list = _tx_list(tx, "access_list")
    inputs = TxGasInputs(
        bytes(tx.data), is_create=tx.to == CREATE_CONTRACT_ADDRESS,
        access_list_addresses=len(access_list),
        access_list_storage_keys=sum(len(keys_) for _, keys_ in access_list),
        authorizations=len(_tx_list(tx, "authorization_list")),
    )
    _last_inputs = (tx, inputs)
    return inputs


def _authority(auth: Any) -> bytes | None:
    """A 7702 authorization's authority, None when it does not recover (upstream counts the recovered ones in
    the data-size meter)."""
    import rlp
    from eth.vm.forks.prague.constants import MAGIC
    try:
        msg = MAGIC + rlp.encode([auth.chain_id, auth.address, auth.nonce])
        key = keys.Signature(vrs=(auth.y_parity, auth.r, auth.s)).recover_public_key_from_msg(msg)
        return key.to_canonical_address()
    except Exception:
        return None


def loaded_untouched(tx: SignedTransactionAPI, authorities: list[bytes | None], chain_id: int,
                     coinbase: bytes) -> frozenset[bytes]:
    """Accounts revm's journal holds, untouched, when the tx's first frame starts, and that the tx will not touch
    later: access-list entries with storage keys (loaded with their slots) and the authorities of 7702
    authorizations that pass the chain-id and nonce checks (loaded, then touched only if applied), less the
    sender and, for a fee-paying tx, the coinbase and fee vaults its end credits. KeylessDeploy's sandbox merge
    (mega-evm `merge_evm_state_optional_status(…, false)`) keeps their statuses, so a commit drops what the
    sandbox changed in them."""
    loaded = {bytes(address) for address, slots in _tx_list(tx, "access_list") if slots}
    for auth, authority in zip(_tx_list(tx, "authorization_list"), authorities, strict=True):
        if authority is not None and auth.chain_id in (0, chain_id) and auth.nonce < 2**64 - 1:
            loaded.add(authority)
    loaded.discard(bytes(tx.sender))
    if not is_deposit(tx):
        loaded -= {coinbase, BASE_FEE_VAULT_ADDRESS, L1_FEE_VAULT_ADDRESS, OPERATOR_FEE_VAULT_ADDRESS}
    return frozenset(loaded)


class RexTransactionExecutor(OpTransactionExecutor):
    """OP Isthmus execution with the Rex tx-level rules (§3 steps 3–8)."""

    vm_state: RexState
    initcode_limit = None  # the spec's (548,864 bytes from MiniRex on), checked by `validate_tx_gas`

    def validate_transaction(self, transaction: SignedTransactionAPI) -> None:
        super().validate_transaction(transaction)
        try:
            validate_tx_gas(self.vm_state.rex.spec, tx_gas_inputs(transaction), transaction.gas)
        except InvalidTxGas as e:
            raise InvalidTransaction(str(e)) from e

    def build_evm_message(self, transaction: SignedTransactionAPI) -> MessageAPI:
        rex = self.vm_state.rex
        inputs = tx_gas_inputs(transaction)
        initial = intrinsic_gas(rex.spec, inputs)
        if inputs.is_create:
            sender = transaction.sender
            created = generate_contract_address(sender, self.vm_state.get_nonce(sender))
            extra = tx_storage_gas(rex.spec, True, transaction.value, False, rex.capacity(account_key(created)))
        else:
            to = transaction.to
            empty = transaction.value != 0 and is_empty_account(self.vm_state, to)
            extra = tx_storage_gas(rex.spec, False, transaction.value, empty, rex.capacity(account_key(to)))
        rex.compute_used = initial.compute  # recorded at validation; checked at the first frame init (§3)
        message = super().build_evm_message(transaction)
        total = initial.total + extra.total
        self._starts_out_of_gas = total > transaction.gas
        message.gas = max(0, transaction.gas - total)
        return message

    def build_computation(self, message: MessageAPI, transaction: SignedTransactionAPI) -> ComputationAPI:
        if self._starts_out_of_gas:  # intrinsic + tx-level storage gas > gas limit: OutOfGas, all spent (§3 step 6)
            computation = self.vm_state.get_computation(message, self.vm_state.get_transaction_context(transaction))
            computation.error = OutOfGas("intrinsic and tx-level storage gas exceed the gas limit")
            return computation
        return super().build_computation(message, transaction)  # type: ignore[no-any-return]

    def calc_data_floor_gas(self, transaction: SignedTransactionAPI, gas_used: int, gas_refund: int) -> int:
        """EIP-7623 with the MegaETH surcharge (21,000 + 110·tokens), as the extra gas to reach it (§3.1)."""
        floor = floor_gas(self.vm_state.rex.spec, tx_gas_inputs(transaction))
        return max(floor - (gas_used - gas_refund), 0)

    def finalize_computation(self, transaction: SignedTransactionAPI,
                             computation: ComputationAPI) -> ComputationAPI:
        rex = self.vm_state.rex
        if rex.exceeded is not None:  # a limit halt: gas used = gas consumed so far (§4.7)
            computation._rex_remaining = rex.rescued  # type: ignore[attr-defined]
        return super().finalize_computation(transaction, computation)  # type: ignore[no-any-return]

    def receipt_gas_used(self, transaction: SignedTransactionAPI, computation: ComputationAPI) -> int:
        """The fee vaults are credited on the receipt's gas (op-revm `reward_beneficiary`, §7.4)."""
        return rex_gas_used(transaction, computation)


def bucket_capacity_source(reader: Any) -> Callable[[bytes], int]:
    """The reader's `bucket_capacity(plain_key)` (`WitnessReader`: the witness's metadata; the sequencer's
    `SaltReader`: the SALT store's); a reader without one (in-memory test states) has every bucket at the
    minimum capacity 256."""
    lookup = getattr(reader, "bucket_capacity", None)
    if lookup is not None:
        return lookup  # type: ignore[no-any-return]
    return lambda plain_key: MIN_BUCKET_SIZE


class RexState(OpState):
    """Isthmus state with the Rex computation and executor and the block-scoped `RexMeters`."""

    computation_class = RexComputation
    transaction_executor_class = RexTransactionExecutor
    rex_spec = Spec.REX

    def __init__(self, db: Any, execution_context: Any, state_root: Any) -> None:
        super().__init__(db, execution_context, state_root)
        self.rex = RexMeters(self.rex_spec, bytes(execution_context.coinbase), bucket_capacity_source(db))
        self._preloaded = frozenset(self.computation_class.get_precompiles()) | {bytes(execution_context.coinbase)}

    def is_preloaded_warm(self, address: bytes) -> bool:
        """revm's warm-preloaded addresses: coinbase (EIP-3651) and the precompiles (EIP-2929)."""
        return address in self._preloaded

    def is_address_warm(self, address: bytes) -> bool:
        """EIP-2929 warmth as revm's journal has it: journaled warm marks, plus the preloaded addresses
        unless their first load this tx was a MegaETH wrapper's cold inspection (`_inspect_account`)."""
        if address in self._preloaded:
            self.rex.touched.add(address)
            if address not in self.rex.cold_inspected:
                return True
        return self._account_db.is_address_warm(address)  # type: ignore[no-any-return]

    def mark_address_warm(self, address: bytes) -> None:
        if address in self._preloaded:  # loaded by the tx itself (sender, recipient, created address)
            self.rex.touched.add(address)
        super().mark_address_warm(address)


def rex_gas_used(transaction: SignedTransactionAPI, computation: ComputationAPI) -> int:
    """Receipt gas (§3 steps 7–8, §4.7), kept on the finalized computation: the executor's fee-vault
    credit and then the receipt (`RexVM.finalize_gas_used`) ask for it, with nothing changing between."""
    cached = getattr(computation, "_rex_gas_used", None)
    if cached is not None and cached[0] is transaction:
        return cached[1]  # type: ignore[no-any-return]
    gas = _rex_gas_used(transaction, computation)
    computation._rex_gas_used = (transaction, gas)  # type: ignore[attr-defined]
    return gas


def _rex_gas_used(transaction: SignedTransactionAPI, computation: ComputationAPI) -> int:
    """`gas.tx.tx_gas_used` of the finalized computation."""
    rex: RexMeters = computation.state.rex  # type: ignore[attr-defined]
    if rex.exceeded is not None and is_deposit(transaction):
        return transaction.gas  # a halted deposit fails whole (op-revm `catch_error`): nothing rescued
    floor = floor_gas(rex.spec, tx_gas_inputs(transaction))
    eip7702_refund = computation.msg.refund
    if rex.exceeded is not None:
        outcome, remaining, rescued = Outcome.HALT, 0, rex.rescued
    elif computation.is_success:
        outcome, remaining, rescued = Outcome.SUCCESS, computation.get_gas_remaining(), 0
    elif computation.should_burn_gas:
        outcome, remaining, rescued = Outcome.HALT, 0, 0
    else:
        outcome, remaining, rescued = Outcome.REVERT, computation.get_gas_remaining(), 0
    counter = computation.get_gas_refund() - eip7702_refund if computation.is_success else 0
    return tx_gas_used(gas_limit=transaction.gas, outcome=outcome, remaining=remaining, refund_counter=counter,
                       eip7702_refund=eip7702_refund, rescued=rescued, floor=floor)


class RexVM(OpVM):
    _state_class = RexState

    @classmethod
    def finalize_gas_used(cls, transaction: SignedTransactionAPI, computation: ComputationAPI) -> int:
        return rex_gas_used(transaction, computation)


class Rex1State(RexState):
    rex_spec = Spec.REX1


class Rex1VM(RexVM):
    _state_class = Rex1State


def _own_table_vm(name: str, spec: Spec) -> type[RexVM]:
    """The VM of a spec whose instruction table is not Rex's (`rex_opcodes`): `{name}VM` over `{name}State` over
    `{name}Computation`, which has that table."""
    computation = type(f"{name}Computation", (RexComputation,),
                       {"spec": spec, "opcodes": rex_opcodes(OpState.computation_class.opcodes, spec)})
    state = type(f"{name}State", (RexState,), {"computation_class": computation, "rex_spec": spec})
    return type(f"{name}VM", (RexVM,), {"_state_class": state})


MiniRexVM = _own_table_vm("MiniRex", Spec.MINI_REX)  # CALLCODE, DELEGATECALL, STATICCALL unwrapped
Rex2VM = _own_table_vm("Rex2", Spec.REX2)  # SELFDESTRUCT back (EIP-6780), compute gas only


# ---------------------------------------------------------------------------------------------------------
# Rule set
# ---------------------------------------------------------------------------------------------------------


class RexRules(IsthmusRules):
    """MegaETH MiniRex, Rex, Rex1 or Rex2 on OP Isthmus: the rules differ by `spec` (its gas schedule) and the
    instruction tables of MiniRex and Rex2."""

    def __init__(self, spec: Spec = Spec.REX) -> None:
        vm = {Spec.MINI_REX: MiniRexVM, Spec.REX: RexVM, Spec.REX1: Rex1VM, Spec.REX2: Rex2VM}.get(spec)
        if vm is None:
            raise NotImplementedError(f"MegaETH spec {spec.name} is not implemented (MiniRex to Rex2 are)")
        super().__init__(spec)
        self.vm_class = vm
        self.state_class = vm._state_class

    def after_system_calls(self, state: StateAPI) -> None:
        """The EIP-2935 and EIP-4788 system calls run through the Rex EVM: their NUMBER / TIMESTAMP are
        volatile accesses, so under Rex the compute limit is ≤ 20,000,000 from the first tx on (§6.4, §8).
        `block.py` writes their storage directly; this replays their detention."""
        rex: RexMeters = state.rex  # type: ignore[attr-defined]
        for address, access, runs in (
            (HISTORY_STORAGE_ADDRESS, VolatileAccess.BLOCK_NUMBER, state.block_number > 0),
            (BEACON_ROOTS_ADDRESS, VolatileAccess.TIMESTAMP, True),
        ):
            if not runs or state.get_code_hash(address) == KECCAK_EMPTY:
                continue
            rex.start_tx(None, None, 0, (), 0, 0)
            rex.mark(access)
            rex.detain()

    def before_transaction(self, state: StateAPI, tx: SignedTransactionAPI) -> None:
        """`on_new_tx` (§3 step 2)."""
        rex: RexMeters = state.rex  # type: ignore[attr-defined]
        auths = _tx_list(tx, "authorization_list")
        access_list = _tx_list(tx, "access_list")
        to = None if tx.to == CREATE_CONTRACT_ADDRESS else bytes(tx.to)
        authorities = [_authority(a) for a in auths]
        rex.start_tx(bytes(tx.sender), to, len(tx.data), tuple(len(k) for _, k in access_list), len(auths),
                     sum(a is not None for a in authorities))
        if access_list or auths:
            rex.loaded_untouched = loaded_untouched(tx, authorities, state.execution_context.chain_id, rex.coinbase)
