"""The host side of native frames, backed by a py-evm Computation.

Host opcodes (balance, code, logs, transient storage, calls, creates, …) run py-evm's own opcode
logic on the computation, so their gas rules (EIP-2929, 63/64, stipends, memory) stay in one place.
The computation's memory is swapped for a view of the native frame's memory, its stack receives only
the opcode's arguments, and its gas meter is synchronised before and after each call.

Environment opcodes and storage run in C (runtime.h): an environment value is fetched here once per
frame (by running py-evm's opcode on a scratch gas meter); a storage slot is loaded here on first
touch (current value, original value, warmth) and the frame's writes, new warm slots and refund
delta are written back to py-evm's state at a successful exit and before any call or create (which
may run code reading or writing this account's storage); the cache is emptied after such a
write-back. A reverting or failing frame writes nothing back: py-evm rolls the frame's snapshot back
anyway, journal and access list included.
`NativeComputation` plugs a compiled contract into any py-evm Computation class (hot swap).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from eth.abc import ComputationAPI, MessageAPI, StateAPI, TransactionContextAPI
from eth.exceptions import (
    FullStack,
    Halt,
    InsufficientStack,
    InvalidInstruction,
    InvalidJumpDestination,
    OutOfGas,
    Revert,
    WriteProtection,
)
from eth.vm.forks.berlin.constants import COLD_SLOAD_COST, WARM_STORAGE_READ_COST

from aot import loader
from aot.loader import Contract, ffi
from aot.opcodes import CALLS, ENV_INDEX, SELFBALANCE, SSTORE

_KEEP_SELFBALANCE = ~(1 << ENV_INDEX[SELFBALANCE])
_SCRATCH_GAS = 1 << 62

_ERRORS: dict[int, Callable[[], Exception]] = {
    loader.OOG: lambda: OutOfGas("native: out of gas"),
    loader.BAD_JUMP: lambda: InvalidJumpDestination("native: invalid jump destination"),
    loader.UNDERFLOW: lambda: InsufficientStack("native: stack underflow"),
    loader.OVERFLOW: lambda: FullStack("native: stack overflow"),
    loader.INVALID: lambda: InvalidInstruction("native: invalid opcode"),
    loader.STATIC: lambda: WriteProtection("native: SSTORE in a static call"),
}


class FrameMemory:
    """py-evm's MemoryAPI over a native frame's memory buffer."""

    def __init__(self, frame: Any, contract: Contract) -> None:
        self.frame, self.contract = frame, contract

    def __len__(self) -> int:
        return int(self.frame.mem_size)

    def extend(self, start_position: int, size: int) -> None:
        if size and not self.contract.library.mem_resize(self.frame, (start_position + size + 31) // 32 * 32):
            raise MemoryError("native frame memory")

    def write(self, start_position: int, size: int, value: bytes) -> None:
        if size:
            ffi.memmove(self.frame.mem + start_position, value, size)

    def read(self, start_position: int, size: int) -> memoryview:
        return memoryview(self.read_bytes(start_position, size))

    def read_bytes(self, start_position: int, size: int) -> bytes:
        return ffi.unpack(self.frame.mem + start_position, size) if size else b""

    def copy(self, destination: int, source: int, length: int) -> None:
        if length:
            ffi.memmove(self.frame.mem + destination, self.frame.mem + source, length)


class PyEvmHost:
    """Serves host opcodes for one native frame by running py-evm's opcode on `computation`."""

    sload_always_cold = False  # every SLOAD of this frame's storage costs 2,100 (a flavour's rule: AOT_SLOT_COLD)
    slot_flags = 0  # io[2][0] bits every slot this frame loads gets (AOT_SLOT_COLD, AOT_SLOT_HOST: runtime.h)

    def __init__(self, computation: ComputationAPI, contract: Contract) -> None:
        self.computation, self.contract = computation, contract
        self.error: BaseException | None = None

    def bind(self, frame: Any) -> None:
        self.computation._memory = FrameMemory(frame, self.contract)  # type: ignore[attr-defined]

    def flush(self, frame: Any) -> None:
        """Write the frame's storage writes, newly warm slots and refund delta back to py-evm, and
        empty the slot cache."""
        comp = self.computation
        if frame.slot_count:
            warmed, written = self.contract.library.take_slots(frame)
            if warmed or written:
                self.write_slots(comp.state, comp.msg.storage_address, warmed, written)
        if frame.refund:
            comp.refund_gas(int(frame.refund))
            frame.refund = 0

    @staticmethod
    def write_slots(state: StateAPI, address: bytes, warmed: list[int],
                    written: list[tuple[int, int]]) -> None:
        """Mark the frame's newly warm slots warm, then write its written slots (uint256 keys and values)."""
        for key in warmed:
            state.mark_storage_warm(address, key)  # type: ignore[arg-type]
        for key, value in written:
            state.set_storage(address, key, value)  # type: ignore[arg-type]

    def finished(self, status: int, gas_left: int) -> None:
        """Called once the frame has run, before its outcome is applied (a subclass may account or veto)."""

    def exit(self, frame: Any, status: int) -> None:
        if status in (loader.STOP, loader.RETURN) and self.error is None:
            try:
                self.flush(frame)
            except BaseException as e:  # noqa: BLE001 - re-raised by execute()
                self.error = e

    def _env(self, op: int) -> int:
        """The value of environment opcode `op`, by its py-evm opcode on a scratch gas meter."""
        comp = self.computation
        meter = comp._gas_meter  # type: ignore[attr-defined]
        saved = meter.gas_remaining
        meter.gas_remaining = _SCRATCH_GAS
        try:
            comp.opcodes[op](computation=comp)
        finally:
            meter.gas_remaining = saved
        return comp._stack.pop1_int()  # type: ignore[attr-defined, no-any-return]

    def sload(self, key: int, gas: int) -> tuple[int, int, int] | int:
        """Answer HOST_SLOAD for slot `key` of an instruction that can pay `gas`: (current value, value at the
        start of the transaction, flags: runtime.h), or HOST_ERROR with `error` set."""
        comp = self.computation
        state, addr = comp.state, comp.msg.storage_address
        try:
            warm = state.is_storage_warm(addr, key)
            cold = not warm or self.sload_always_cold
            if gas < (COLD_SLOAD_COST if cold else WARM_STORAGE_READ_COST):  # charged before the read
                return loader.SLOAD_CANNOT_PAY
            current = state.get_storage(addr, key)
            return current, state.get_storage(addr, key, from_journal=False), int(warm) | self.slot_flags
        except BaseException as e:  # noqa: BLE001 - re-raised by execute() once the frame has exited
            self.error = e
            return loader.HOST_ERROR

    def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> tuple[int, int, int | None]:
        """Serve host opcode `op` (aot.loader.Host): py-evm's opcode on the computation, whose stack is empty
        (each argument a uint256: no checks due)."""
        if op >= loader.HOST_ENV:
            try:
                return 0, gas, self._env(op & 0xFF)
            except BaseException as e:  # noqa: BLE001 - re-raised by execute() once the frame has exited
                self.error = e
                return loader.HOST_ERROR, gas, None
        comp = self.computation
        calls = op in CALLS
        if calls or op == SSTORE:  # code that may touch this storage, or a host SSTORE ("rex"): cache out first
            try:
                self.flush(frame)
            except BaseException as e:  # noqa: BLE001
                self.error = e
                return loader.HOST_ERROR, gas, None
        stack = comp._stack  # type: ignore[attr-defined]
        stack.values.extend(args)
        meter = comp._gas_meter  # type: ignore[attr-defined]
        meter.gas_remaining = gas
        comp.code.program_counter = pc + 1
        status = 0
        try:
            comp.opcodes[op](computation=comp)
        except Halt:
            status = loader.STOP
        except BaseException as e:  # noqa: BLE001 - re-raised by execute() once the frame has exited
            self.error = e
            status = loader.HOST_ERROR
        if calls:
            frame.returndata_size = len(comp.return_data)
            frame.env_valid &= _KEEP_SELFBALANCE
        if stack.values:
            value = stack.pop1_int()
            stack.values.clear()
            return status, meter.gas_remaining, value
        return status, meter.gas_remaining, None


def execute(computation: ComputationAPI, contract: Contract, host: PyEvmHost | None = None) -> None:
    """Run `contract` as the computation's code, ending exactly as py-evm's interpreter loop would:
    output and gas set on success, `Revert` or the matching VMError raised otherwise."""
    host = host or PyEvmHost(computation, contract)
    meter = computation._gas_meter  # type: ignore[attr-defined]
    msg = computation.msg
    out = contract.run(meter.gas_remaining, bytes(msg.data), host, host.bind, host.exit, msg.value,
                       bool(msg.is_static))
    host.finished(out.status, out.gas_left)
    if host.error is not None:
        raise host.error
    if out.status == loader.HOST_ERROR:
        raise MemoryError("native frame: storage cache allocation failed")
    if out.status in _ERRORS:
        raise _ERRORS[out.status]()
    meter.gas_remaining = out.gas_left
    if out.status == loader.RETURN:
        computation.output = out.output
    elif out.status == loader.REVERT:
        computation.output = out.output
        raise Revert(out.output)


class NativeComputation:
    """Mixin for a py-evm Computation class: frames whose code has a compiled contract run natively.

    `native` maps code to a Contract (or None to interpret); set it on the concrete subclass.
    """

    native: ClassVar[Callable[[bytes], Contract | None]] = staticmethod(lambda code: None)

    @classmethod
    def apply_computation(cls, state: StateAPI, message: MessageAPI,
                          transaction_context: TransactionContextAPI,
                          parent_computation: ComputationAPI | None = None) -> ComputationAPI:
        contract = None if message.is_create else cls.native(message.code)
        if contract is None or message.code_address in cls._precompiles:  # type: ignore[attr-defined]
            return super().apply_computation(  # type: ignore[misc]
                state, message, transaction_context, parent_computation)
        with cls(state, message, transaction_context) as computation:  # type: ignore[call-arg]
            if computation.is_origin_computation:
                computation.contracts_created = []
            if parent_computation is not None:
                computation.contracts_created = parent_computation.contracts_created
            execute(computation, contract)
        return computation
