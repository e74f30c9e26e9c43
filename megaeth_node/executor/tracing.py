"""Opcode tracers for the executor's `rex.trace` hook: the reference loop calls `trace(computation, opcode, pc)`
before every opcode of every frame (`RexComputation._run_traced`)."""

from __future__ import annotations

import json
import re
from typing import Any, TextIO

from eth import exceptions as vm

# geth's wording (core/vm/errors.go) of py-evm's execution errors
_GETH_ERRORS = (
    (vm.Revert, "execution reverted"), (vm.OutOfGas, "out of gas"), (vm.InsufficientStack, "stack underflow"),
    (vm.FullStack, "stack limit reached 1024"), (vm.InvalidJumpDestination, "invalid jump destination"),
    (vm.StackDepthLimit, "max call depth exceeded"), (vm.InsufficientFunds, "insufficient balance for transfer"),
    (vm.ContractCreationCollision, "contract address collision"), (vm.WriteProtection, "write protection"),
    (vm.OutOfBoundsRead, "return data out of bounds"),
    (vm.ReservedBytesInCode, "invalid code: must not begin with 0xef"),
)


def vm_error(error: BaseException) -> str:
    """geth's wording of an execution error, as eth_call and the tracers report it."""
    for kind, text in _GETH_ERRORS:
        if isinstance(error, kind):
            return text
    if isinstance(error, vm.InvalidInstruction):  # py-evm: "Invalid opcode 0x.. @ pc"
        found = re.search(r"0x[0-9a-f]+", str(error))
        if found is not None:
            opcode = found.group(0)
            return "invalid opcode: INVALID" if opcode == "0xfe" else f"invalid opcode: opcode {opcode} not defined"
    return str(error) or type(error).__name__


def op_name(opcode: int) -> str:
    """The mnemonic (from py-evm's Prague table: MegaETH wrappers keep the opcodes' names)."""
    from eth.vm.forks.prague.computation import PragueComputation

    op = PragueComputation.opcodes.get(opcode)
    name = getattr(op, "mnemonic", None)
    return name if isinstance(name, str) else f"0x{opcode:02x}"


class TraceAborted(Exception):
    """A tracer ran out of its time or size budget: the run it traces is abandoned (no state is kept)."""


class StepTracer:
    """One step per opcode, in execution order. A step ends when its frame runs its next opcode or, for a
    frame's last opcode, when the frame has ended: `finished(step, computation, gas_after, returned)` gets the
    frame's gas then and the gas its child frames started during the step gave back (a CALL* or CREATE*).
    Steps go to `emit` in execution order once finished."""

    def __init__(self) -> None:
        self._steps: list[list[Any]] = []  # [step, finished] in execution order
        self._open: dict[int, tuple[Any, list[Any], int]] = {}  # depth → (frame, its last step, children then)

    def step(self, computation: Any, opcode: int, pc: int, gas: int, depth: int) -> Any:
        raise NotImplementedError

    def finished(self, step: Any, computation: Any, gas_after: int, returned: int) -> None:
        raise NotImplementedError

    def emit(self, step: Any) -> None:
        raise NotImplementedError

    def __call__(self, computation: Any, opcode: int, pc: int) -> None:
        depth = computation.msg.depth + 1
        for d in [d for d in self._open if d >= depth]:  # this frame's previous opcode, and frames that ended
            self._finish(*self._open.pop(d))
        line = [self.step(computation, opcode, pc, computation._gas_meter.gas_remaining, depth), False]
        self._steps.append(line)
        self._open[depth] = (computation, line, len(computation.children))
        self._emit_ready()

    def _finish(self, computation: Any, line: list[Any], children: int) -> None:
        returned = sum(child.get_gas_remaining() for child in computation.children[children:])
        self.finished(line[0], computation, computation._gas_meter.gas_remaining, returned)
        line[1] = True

    def _emit_ready(self) -> None:
        done = 0
        for step, finished in self._steps:
            if not finished:
                break
            self.emit(step)
            done += 1
        if done:
            del self._steps[:done]

    def flush(self) -> None:
        """End of the tx: every frame has ended, so the open steps finish at their frame's final gas."""
        for open_ in self._open.values():
            self._finish(*open_)
        self._open.clear()
        self._emit_ready()


class OpcodeTracer(StepTracer):
    """EIP-3155-style JSON lines: `pc`, `op`, `opName`, `gas` (remaining before the opcode), `gasCost`,
    `computeGas` (the tx's compute gas before the opcode, spec/mega-evm.md §4.1), `computeCost`, `depth` (1 =
    the tx's frame). The costs are the frame's net use to its next opcode (for CALL*/CREATE* that includes the
    child frame's net use) or, for a frame's last opcode, to the frame's end (an exceptional halt's burnt gas
    included)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self.out = out

    def step(self, computation: Any, opcode: int, pc: int, gas: int, depth: int) -> dict[str, Any]:
        return {"pc": pc, "op": opcode, "opName": op_name(opcode), "gas": hex(gas), "gasCost": None,
                "computeGas": hex(computation.state.rex.compute_used), "computeCost": None, "depth": depth}

    def finished(self, step: dict[str, Any], computation: Any, gas_after: int, returned: int) -> None:
        step["gasCost"] = hex(max(0, int(step["gas"], 16) - gas_after))
        step["computeCost"] = hex(max(0, computation.state.rex.compute_used - int(step["computeGas"], 16)))

    def emit(self, step: dict[str, Any]) -> None:
        print(json.dumps(step), file=self.out)
