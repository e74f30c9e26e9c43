"""Native frames under MegaETH's Rex rules (the "rex" native flavour, aot.opcodes.REX_HOST_OPS).

Native code runs the opcodes whose gas and semantics are Cancun's, and SLOAD (its one Rex rule, the
oracle's always-cold slots, is a flag the host puts on the slots it loads); every other opcode MegaETH wraps
(volatile-data detention, calls, creates…) goes to the host, which runs the wrapper exactly as the
interpreter does. SSTORE and LOG run natively where the wrapper adds nothing but usage that cannot cross a
limit, and gas that is static: an SSTORE owing no storage gas and no state growth, a slot's first write and
a LOG's data size within the rooms the host gives (`RexMeters.native_rooms`), a LOG's storage gas (§5.2,
per topic and byte) charged in C. Their usage, the LOGs' entries and the storage gas (not compute gas) are
taken at the next host opcode and at the frame's exit; every other SSTORE and LOG the native code hands to
the host (runtime.h `aot_sstore`, `aot_log`). The compute meter (spec/mega-evm.md §4.1: every opcode's
compute gas is its gas) is kept per run of native opcodes: at each host opcode and at the frame's exit the
gas spent since the last one, less native storage gas, is added, then the wrapper's own gas is settled as
`RexComputation._run` settles it.

What native code cannot reproduce is *where* a run of plain opcodes crosses the compute limit (the
interpreter halts right after the crossing opcode), nor the compute gas of an exceptional halt inside a
block (native code charges a block's static gas at its entry). Compute gas only grows and the limit only
falls within a transaction, so if neither happened the native run is the interpreter's run. Otherwise the
frame raises `NativeAbort`; the block executor rolls the transaction back and runs it again interpreted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from eth.constants import GAS_LOG
from eth.vm.forks.berlin.constants import COLD_SLOAD_COST, WARM_STORAGE_READ_COST
from eth.vm.opcode_values import LOG0, LOG4

from aot import loader
from aot.host import PyEvmHost, execute
from aot.loader import Contract
from gas.limits import native_usage
from gas.opcodes import sload_is_cold
from gas.spec import Spec
from gas.storage import log_storage_gas

from megaeth_node.executor.rex import RexMeters, delegate_account, rex_log, settle
from megaeth_node.executor.state import MissingStateKey

T = TypeVar("T")


class NativeAbort(Exception):  # noqa: N818 - not an error of the transaction: a request to re-run it
    """A native frame cannot prove it matches the interpreter: re-run the transaction interpreted."""


_NORMAL_EXIT = (loader.STOP, loader.RETURN, loader.REVERT)


@functools.cache
def _log_rates(spec: Spec) -> tuple[int, int]:
    """LOG storage gas per topic and per data byte (`log_storage_gas` is linear in both)."""
    return log_storage_gas(spec, 1, 0).storage, log_storage_gas(spec, 0, 1).storage


class RexHost(PyEvmHost):
    """PyEvmHost plus the compute meter around native runs and wrapper opcodes."""

    def __init__(self, computation: Any, contract: Contract, rex: RexMeters) -> None:
        super().__init__(computation, contract)
        self.rex = rex
        address = self.address = computation.msg.storage_address
        self.db = computation.state._account_db
        # §5.2: the oracle's SLOADs are cold even when warm (`sload_is_cold` of a warm slot)
        self.sload_always_cold = sload_is_cold(rex.spec, bytes(address), True)
        # the wrapper's SSTORE in a 7702-delegated storage context sees a slot's original as its present value
        delegated = delegate_account(computation.state, address) != address
        self.slot_flags = (2 if self.sload_always_cold else 0) | (8 if delegated else 0)
        self.window = computation._gas_meter.gas_remaining  # gas when the current native run started

    def bind(self, frame: Any) -> None:
        super().bind(frame)
        self.frame = frame
        frame.rex_sstore = frame.rex_log = 1
        frame.kv_writes = 0
        frame.log_topic_gas, frame.log_byte_gas = _log_rates(self.rex.spec)
        frame.kv_room, frame.log_room = self.rex.native_rooms()

    def _take_native(self, frame: Any) -> None:
        """Record the native SSTOREs' net first writes and LOGs' data size in the meter (within the rooms: no
        check due), append the LOGs' entries as `rex_log` does, and take their storage gas out of the compute
        window."""
        n, logged = frame.kv_writes, frame.log_bytes
        if n or logged:
            self.rex.meter.record(native_usage(n, logged))
            frame.kv_writes = frame.log_bytes = 0
        if frame.log_size:
            comp = self.computation
            counter, address = comp.transaction_context.get_next_log_counter, comp.msg.storage_address
            comp._log_entries += [(counter(), address, topics, data)
                                  for topics, data in self.contract.library.take_logs(frame)]
            self.window -= frame.log_storage_gas
            frame.log_storage_gas = 0

    def sload(self, key: int, gas: int) -> tuple[int, int, int] | int:
        """PyEvmHost.sload on the overlay account DB directly, after the compute limit check."""
        if self._crossed(gas):  # the interpreter would have halted before this SLOAD: nothing may be read
            self.error = NativeAbort("compute limit crossed inside a native run")
            return loader.HOST_ERROR
        db, address = self.db, self.address
        try:
            warm = db.is_storage_warm(address, key)
            if gas < (WARM_STORAGE_READ_COST if warm and not self.sload_always_cold else COLD_SLOAD_COST):
                return loader.SLOAD_CANNOT_PAY  # charged before the read
            current, original = db.current_and_original(address, key)
        except BaseException as e:  # noqa: BLE001 - re-raised by execute() once the frame has exited
            self.error = e
            return loader.HOST_ERROR
        return current, original, warm | self.slot_flags

    @staticmethod
    def write_slots(state: Any, address: bytes, warmed: list[int], written: list[tuple[int, int]]) -> None:
        state._account_db.write_slots(address, warmed, written)

    def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> tuple[int, int, int | None]:
        if op >= loader.HOST_ENV:
            return super().opcode(frame, op, pc, gas, args)
        rex, comp = self.rex, self.computation
        self._take_native(frame)
        rex.compute_used += self.window - gas  # `gas`: what the interpreter sees before this opcode
        if rex.compute_used > rex.compute_limit:
            self.error = NativeAbort("compute limit crossed inside a native run")
            return loader.HOST_ERROR, gas, None
        comp._op_start = gas
        if LOG0 <= op <= LOG4:
            status, gas, value = self._log(op - LOG0, gas, args)
        else:
            status, gas, value = super().opcode(frame, op, pc, gas, args)
        if self.error is None:
            try:
                settle(comp, rex, comp._op_start - gas)  # the wrapper restarts `_op_start` past storage gas
            except BaseException as e:  # noqa: BLE001 - LimitExceeded: raised by execute() as the interpreter raises it
                self.error = e
                status = loader.HOST_ERROR
        self.window = gas
        frame.kv_room, frame.log_room = rex.native_rooms()  # after every host opcode: any may record usage
        return status, gas, value

    def _log(self, topics: int, gas: int, args: list[int]) -> tuple[int, int, None]:
        """LOGn by `rex_log` on its arguments (`args`: stack order, the top last), as the interpreter's wrapper
        runs it, without passing them through py-evm's stack."""
        comp = self.computation
        meter = comp._gas_meter
        meter.gas_remaining = gas
        try:
            rex_log(comp, self.rex, topics, GAS_LOG, args[-1], args[-2], args[-3::-1])
        except BaseException as e:  # noqa: BLE001 - re-raised by execute() once the frame has exited
            self.error = e
            return loader.HOST_ERROR, meter.gas_remaining, None
        return 0, meter.gas_remaining, None

    def _crossed(self, gas: int) -> bool:
        """Whether the compute gas of the native run so far, down to `gas` left, crosses the limit."""
        compute = self.window - gas - self.frame.log_storage_gas
        return self.rex.compute_used + compute > self.rex.compute_limit

    def exit(self, frame: Any, status: int) -> None:
        self._take_native(frame)  # a failed frame's entries and usage are dropped with it, as the interpreter's
        super().exit(frame, status)

    def finished(self, status: int, gas_left: int) -> None:
        if self.error is not None:
            return
        if status not in _NORMAL_EXIT:
            self.error = NativeAbort(f"native frame halted exceptionally (status {status})")
            return
        rex = self.rex
        rex.compute_used += self.window - gas_left
        if rex.compute_used > rex.compute_limit:
            self.error = NativeAbort("compute limit crossed inside a native run")


def run_native(contract: Contract, computation: Any, rex: RexMeters) -> None:
    """Run a Rex frame's code natively (see the module doc); raises what the interpreter would, or NativeAbort."""
    rex.ran_native = True
    execute(computation, contract, RexHost(computation, contract, rex))


def interpreted_on_abort(state: Any, run: Callable[[], T]) -> T:
    """`run()`, one transaction from `before_transaction` on; when one of its native frames could not vouch for
    exactness (`NativeAbort`, or a read outside a witness that only the native run reached), `run()` again
    with native code off, from the compute limit the transaction started with (its rollback is `run`'s)."""
    rex = getattr(state, "rex", None)
    try:
        return run()
    except (NativeAbort, MissingStateKey):
        if rex is None or not rex.ran_native:
            raise
    rex.compute_limit, rex.native = rex.carried_limit, False
    try:
        return run()
    finally:
        rex.native = True
