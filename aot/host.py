"""The host side of native frames, backed by a py-evm Computation.

Host opcodes (storage, environment, logs, calls, creates, …) run py-evm's own opcode logic on the
computation, so gas rules (EIP-2929/2200/3529, 63/64, stipends, memory) stay in one place. The
computation's memory is swapped for a view of the native frame's memory, its stack receives only the
opcode's arguments, and its gas meter is synchronised before and after each call.
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
)

from aot import loader
from aot.loader import Contract, ffi
from aot.opcodes import OPS

_ERRORS: dict[int, Callable[[], Exception]] = {
    loader.OOG: lambda: OutOfGas("native: out of gas"),
    loader.BAD_JUMP: lambda: InvalidJumpDestination("native: invalid jump destination"),
    loader.UNDERFLOW: lambda: InsufficientStack("native: stack underflow"),
    loader.OVERFLOW: lambda: FullStack("native: stack overflow"),
    loader.INVALID: lambda: InvalidInstruction("native: invalid opcode"),
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
        return bytes(ffi.buffer(self.frame.mem + start_position, size)) if size else b""

    def copy(self, destination: int, source: int, length: int) -> None:
        if length:
            ffi.memmove(self.frame.mem + destination, self.frame.mem + source, length)


class PyEvmHost:
    """Serves host opcodes for one native frame by running py-evm's opcode on `computation`."""

    def __init__(self, computation: ComputationAPI, contract: Contract) -> None:
        self.computation, self.contract = computation, contract
        self.error: BaseException | None = None

    def bind(self, frame: Any) -> None:
        self.computation._memory = FrameMemory(frame, self.contract)  # type: ignore[attr-defined]

    def __call__(self, frame: Any, op: int, pc: int) -> int:
        comp = self.computation
        stack = comp._stack  # type: ignore[attr-defined]
        for k in range(OPS[op].stack_in - 1, -1, -1):
            stack.push_int(int.from_bytes(ffi.buffer(frame.io[k]), "little"))
        meter = comp._gas_meter  # type: ignore[attr-defined]
        meter.gas_remaining = frame.gas
        comp.code.program_counter = pc + 1
        status = 0
        try:
            comp.opcodes[op](computation=comp)
        except Halt:
            status = loader.STOP
        except BaseException as e:  # noqa: BLE001 - re-raised by execute() once the frame has exited
            self.error = e
            status = loader.HOST_ERROR
        frame.gas = meter.gas_remaining
        if stack.values:
            ffi.memmove(frame.io[0], stack.pop1_int().to_bytes(32, "little"), 32)
            stack.values.clear()
        return status


def execute(computation: ComputationAPI, contract: Contract) -> None:
    """Run `contract` as the computation's code, ending exactly as py-evm's interpreter loop would:
    output and gas set on success, `Revert` or the matching VMError raised otherwise."""
    host = PyEvmHost(computation, contract)
    meter = computation._gas_meter  # type: ignore[attr-defined]
    out = contract.run(meter.gas_remaining, bytes(computation.msg.data), host, host.bind)
    if out.status == loader.HOST_ERROR:
        assert host.error is not None
        raise host.error
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
