"""`debug_traceTransaction` and `debug_traceBlockBy*`: re-execute a sealed block from its stored witness up to the
transaction (or all of it), then report each as geth's `callTracer` (py-evm's frame tree as call objects) or as
geth's default struct logger (one entry per opcode) (spec/rpc.md §3); `debug_traceCall` reports a call request the
same ways."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth.abc import ComputationAPI, StateAPI
from eth.exceptions import Revert

from gas.schedule import CALL, CALLCODE, CREATE, CREATE2, DELEGATECALL, SELFDESTRUCT, STATICCALL
from gas.spec import ChainConfig
from megaeth_node.calls import AccountOverride, CallRequest, OpcodeHook, revert_reason, simulate
from megaeth_node.executor.block import OpenBlock
from megaeth_node.executor.rex import FramelessCall
from megaeth_node.executor.rules import IsthmusRules
from megaeth_node.executor.tracing import StepTracer, TraceAborted, op_name, vm_error
from megaeth_node.executor.witness import WitnessReader
from megaeth_node.store import ChainStore
from megaeth_node.types import Block
from salt.store import WitnessState
from salt.witness import decode_salt_witness


class TraceUnavailable(LookupError):
    """The block or its witness is not stored, so the transaction cannot be re-executed."""


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


_CALL_KINDS = {CALL: "CALL", CALLCODE: "CALLCODE", DELEGATECALL: "DELEGATECALL", STATICCALL: "STATICCALL",
               CREATE: "CREATE", CREATE2: "CREATE2", SELFDESTRUCT: "SELFDESTRUCT"}


@dataclass(frozen=True, slots=True)
class CallTracer:
    """geth's `callTracer` with its `tracerConfig`: `onlyTopCall` leaves child frames out, `withLog` adds each
    frame's logs, each with its `position` (how many of the frame's calls came before it)."""

    only_top_call: bool = False
    with_log: bool = False

    def hook(self) -> LogPositions | None:
        """The opcode hook the run needs (log positions for `withLog`), or None."""
        return LogPositions() if self.with_log else None


class LogPositions:
    """An opcode hook: for each LOG0..LOG4 of each frame, how many calls the frame had made before it."""

    def __init__(self) -> None:
        self.positions: dict[int, list[int]] = {}  # id(frame) → per LOG, in order

    def __call__(self, computation: Any, opcode: int, pc: int) -> None:
        if 0xA0 <= opcode <= 0xA4:
            self.positions.setdefault(id(computation), []).append(_calls_made(computation))

    def of(self, computation: ComputationAPI, i: int) -> int:
        """The position of the frame's `i`-th log (one the frame did not emit itself sits after its calls)."""
        seen = self.positions.get(id(computation), ())
        return seen[i] if i < len(seen) else _calls_made(computation)


def _calls_made(computation: Any) -> int:
    """The calls a frame has made so far: its child frames and the frameless ones."""
    return len(computation.children) + len(getattr(computation, "frameless", ()))


def _frameless_frame(c: ComputationAPI, call: FramelessCall) -> dict[str, Any]:
    """geth's frame of an opcode that started none: a refused call or create with its error, or a SELFDESTRUCT
    (its beneficiary as `to`, the balance it moved as `value`)."""
    kind = _CALL_KINDS[call.opcode]
    out: dict[str, Any] = {"type": kind, "from": _hex(c.msg.storage_address)}
    if call.target is not None:
        out["to"] = _hex(call.target)
    if kind != "STATICCALL":
        out["value"] = hex(call.value)
    out.update(gas=hex(call.gas), gasUsed=hex(call.gas_used), input=_hex(call.data))
    if call.error is not None:
        out["error"] = vm_error(call.error)
    return out


def _kind(msg: Any) -> str:
    """The opcode that started the frame, as the Rex executor's child messages record it; a transaction's own
    frame is a CALL or a CREATE."""
    return _CALL_KINDS.get(getattr(msg, "opcode", 0)) or ("CREATE" if msg.is_create else "CALL")


def _frame(c: ComputationAPI, options: CallTracer, logs: LogPositions | None, gas_used: int | None = None,
           gas: int | None = None, parent: ComputationAPI | None = None, failed_above: bool = False) -> dict[str, Any]:
    """A callTracer frame as geth's native `callTracer` writes it (eth/tracers/native/call.go); the top one has the
    receipt's `gas_used` and the tx's gas limit as `gas`. `from` is the account whose code made the call, `to` the
    callee (for DELEGATECALL and CALLCODE the address they were given), `input` a creation's init code; `output`
    only when not empty (after an error, only a revert's data, with its `revertReason`); a failed creation has no
    `to`; a STATICCALL has no `value`. With `withLog`, the logs of frames that neither failed nor sit below a
    failed one."""
    msg = c.msg
    kind = _kind(msg)
    out: dict[str, Any] = {"type": kind, "from": _hex(msg.sender if parent is None else parent.msg.storage_address)}
    if not (c.is_error and msg.is_create):
        out["to"] = _hex(msg.target if kind in ("DELEGATECALL", "CALLCODE") else msg.storage_address)
    if kind != "STATICCALL":
        out["value"] = hex(msg.value)
    out.update(gas=hex(msg.gas if gas is None else gas),
               gasUsed=hex(gas_used if gas_used is not None else c.get_gas_used()),
               input=_hex(bytes(msg.code) if msg.is_create else msg.data_as_bytes))
    reverted = c.is_error and isinstance(c.error, Revert)
    if c.output and (not c.is_error or reverted):
        out["output"] = _hex(c.output)
    if c.is_error:
        out["error"] = vm_error(c.error)
        reason = revert_reason(c.output) if reverted else None
        if reason is not None:
            out["revertReason"] = reason
    failed = failed_above or c.is_error
    if logs is not None and not failed and c._log_entries:  # type: ignore[attr-defined]
        out["logs"] = [
            {"address": _hex(address), "topics": [_hex(t.to_bytes(32, "big")) for t in topics], "data": _hex(data),
             "position": hex(0 if options.only_top_call else logs.of(c, i))}
            for i, (_, address, topics, data) in enumerate(c._log_entries)]  # type: ignore[attr-defined]
    if not options.only_top_call:
        frameless: list[FramelessCall] = list(getattr(c, "frameless", ()))
        children: list[dict[str, Any]] = []
        for child in c.children:
            while frameless and frameless[0].position == len(children):
                children.append(_frameless_frame(c, frameless.pop(0)))
            children.append(_frame(child, options, logs, parent=c, failed_above=failed))
        children += (_frameless_frame(c, call) for call in frameless)  # the ones after the last child frame
        if children:
            out["calls"] = children
    return out


def _replay(chain: ChainStore, config: ChainConfig, number: int) -> tuple[Block, OpenBlock]:
    """Sealed block `number` and a run of it over its stored witness, before its first transaction."""
    if number == 0:
        raise TraceUnavailable("genesis is not traceable")
    block, parent, witness = chain.block(number), chain.header(number - 1), chain.witness(number)
    if block is None or parent is None or witness is None:
        raise TraceUnavailable(f"block {number} or its witness is not stored")
    with chain.env.begin(db=chain.db["codes"]) as txn:
        codes = {bytes(k): bytes(v) for k, v in txn.cursor()}
    reader = WitnessReader(WitnessState(decode_salt_witness(witness[0])), codes, number, parent.hash)
    return block, OpenBlock(reader, block.header, config, frames=True)


def _need_hook(run: OpenBlock, block: Block) -> None:
    """Opcode tracing needs the MegaETH (Rex) executor's hook."""
    if run.rex is None:
        raise TraceUnavailable(f"block {block.header.number} runs under rules without the opcode hook (before Rex)")


def _run_next(run: OpenBlock, block: Block, tracer: OpcodeHook | None = None) -> tuple[ComputationAPI, int, int]:
    """The run's next transaction, every opcode of it through `tracer` if given: its top frame, the gas its
    receipt reports and its gas limit."""
    index = len(run.receipts)
    rex = run.rex
    if tracer is not None:
        _need_hook(run, block)
        rex.trace = tracer
    try:
        receipt = run.execute(block.transactions[index], block.senders[index])
    finally:
        if rex is not None:
            rex.trace = None
    top = run.last_computation
    if top is None:
        raise TraceUnavailable(f"transaction {index} of block {block.header.number} did not execute (failed deposit)")
    if isinstance(tracer, StepTracer):
        tracer.flush()
    prior = run.receipts[index - 1].cumulative_gas_used if index else 0
    return top, receipt.cumulative_gas_used - prior, block.transactions[index].gas


def _rerun(chain: ChainStore, config: ChainConfig, number: int, index: int,
           tracer: OpcodeHook | None = None) -> tuple[ComputationAPI, int, int]:
    """Transaction `index` of sealed block `number` executed again over its stored witness (`_run_next`)."""
    block, run = _replay(chain, config, number)
    for tx, sender in zip(block.transactions[:index], block.senders[:index], strict=True):
        run.execute(tx, sender)
    return _run_next(run, block, tracer)


def call_trace(chain: ChainStore, config: ChainConfig, number: int, index: int,
               options: CallTracer = CallTracer()) -> dict[str, Any]:
    """The callTracer object of transaction `index` of sealed block `number`."""
    logs = options.hook()
    top, gas_used, gas = _rerun(chain, config, number, index, logs)
    return _frame(top, options, logs, gas_used, gas)


MAX_STRUCT_LOGS = 100_000  # entries kept at most (geth's `limit`, which has no default): a reply stays bounded
MAX_STRUCT_LOG_BYTES = 128 << 20  # stack, memory and storage text kept at most: past it the trace is refused
DEFAULT_TRACE_TIMEOUT_S = 5.0  # geth's default `timeout` for a traced transaction


class StructLogger(StepTracer):
    """geth's default tracer (eth/tracers/logger `StructLogger`, `formatLogs`): per opcode `pc`, `op`, `gas`
    before it, `gasCost` (a CALL*/CREATE* counts the gas it passes on, not what its child uses), `depth` (1 = the
    tx's frame), `stack` (bottom first), and with the options: `memory` as 32-byte words, `returnData`,
    `storage` at SLOAD/SSTORE (the slots this contract touched so far, SLOAD's value read before it runs,
    SSTORE's the one it writes). A frame that ends in an exceptional halt has `error` on its last opcode. At
    most `limit` entries (MAX_STRUCT_LOGS with none); TraceAborted once the run passes `timeout_s` (geth's
    `timeout`) or the entries' text passes MAX_STRUCT_LOG_BYTES."""

    def __init__(self, stack: bool = True, storage: bool = True, memory: bool = False, return_data: bool = False,
                 limit: int = 0, timeout_s: float = DEFAULT_TRACE_TIMEOUT_S) -> None:
        super().__init__()
        self.stack, self.storage, self.memory, self.return_data = stack, storage, memory, return_data
        self.limit = min(limit, MAX_STRUCT_LOGS) if limit > 0 else MAX_STRUCT_LOGS
        self.timeout_s = timeout_s
        self.logs: list[dict[str, Any]] = []
        self._seen = 0
        self._bytes = 0
        self._deadline: float | None = None  # set at the first opcode
        self._slots: dict[bytes, dict[int, int]] = {}  # contract → slot → value, as SLOAD/SSTORE saw them

    def _budget(self, size: int) -> None:
        """Count `size` bytes of entry text and check the time every 1,024 opcodes; TraceAborted past either."""
        self._bytes += size
        if self._bytes > MAX_STRUCT_LOG_BYTES:
            raise TraceAborted(f"trace too large: more than {MAX_STRUCT_LOG_BYTES >> 20} MiB of struct logs "
                               "(set limit, or leave memory and stack out)")
        if self._seen & 1023 == 1:
            now = time.monotonic()
            if self._deadline is None:
                self._deadline = now + self.timeout_s
            elif now > self._deadline:
                raise TraceAborted(f"execution timeout: the trace ran longer than {self.timeout_s:g} s")

    def step(self, computation: Any, opcode: int, pc: int, gas: int, depth: int) -> dict[str, Any] | None:
        self._seen += 1
        if self._seen > self.limit:
            self._budget(0)
            return None
        entry: dict[str, Any] = {"pc": pc, "op": op_name(opcode), "gas": gas, "gasCost": 0, "depth": depth}
        values = [v if isinstance(v, int) else int.from_bytes(v, "big") for v in computation._stack.values]
        stack = [hex(v) for v in values] if self.stack else []
        mem = bytes(computation._memory._bytes) if self.memory else b""
        returned = bytes(computation.return_data) if self.return_data else b""
        slots = None
        if self.storage and opcode in (0x54, 0x55) and values[-1:]:  # SLOAD, SSTORE with a key on the stack
            address = bytes(computation.msg.storage_address)
            slots = self._slots.setdefault(address, {})
            if opcode == 0x54:
                slots[values[-1]] = computation.state.get_storage(address, values[-1])
            elif len(values) >= 2:
                slots[values[-1]] = values[-2]
        self._budget(64 + sum(map(len, stack)) + 2 * (len(mem) + len(returned)) + 128 * len(slots or ()))
        if self.stack:
            entry["stack"] = stack
        if self.memory:
            entry["memory"] = [mem[i:i + 32].hex() for i in range(0, len(mem) - 31, 32)]
        if returned:
            entry["returnData"] = "0x" + returned.hex()
        if slots is not None:
            entry["storage"] = {f"{k:064x}": f"{v:064x}" for k, v in slots.items()}
        return entry

    def finished(self, step: dict[str, Any] | None, computation: Any, gas_after: int, returned: int) -> None:
        if step is None:
            return
        step["gasCost"] = max(0, step["gas"] - gas_after + returned)
        if computation.is_error and not isinstance(computation.error, Revert):
            step["error"] = vm_error(computation.error)  # set once the frame ended: its last opcode halted it

    def emit(self, step: dict[str, Any] | None) -> None:
        if step is not None:
            self.logs.append(step)


def _struct_result(top: ComputationAPI, gas_used: int, logger: StructLogger) -> dict[str, Any]:
    """geth's struct-logger result: `gas` (the receipt's), `failed`, `returnValue` (hex without 0x: the output, or
    the revert data; empty after an exceptional halt), `structLogs`."""
    failed = top.is_error
    reverted = failed and isinstance(top.error, Revert)
    return {"gas": gas_used, "failed": failed, "returnValue": top.output.hex() if not failed or reverted else "",
            "structLogs": logger.logs}


def struct_trace(chain: ChainStore, config: ChainConfig, number: int, index: int,
                 logger: StructLogger) -> dict[str, Any]:
    """geth's struct-logger result for transaction `index` of sealed block `number`."""
    top, gas_used, _ = _rerun(chain, config, number, index, logger)
    return _struct_result(top, gas_used, logger)


def block_trace(chain: ChainStore, config: ChainConfig, number: int,
                tracer: CallTracer | Callable[[], StructLogger] = CallTracer()) -> list[dict[str, Any]]:
    """`debug_traceBlockByNumber`: every transaction of sealed block `number`, executed once in order, as geth's
    `{txHash, result}` (callTracer objects; struct-logger results with a logger factory), or `{txHash, error}`
    for one that cannot be traced (a failed deposit)."""
    block, run = _replay(chain, config, number)
    if not isinstance(tracer, CallTracer) or tracer.with_log:
        _need_hook(run, block)
    out: list[dict[str, Any]] = []
    for tx in block.transactions:
        entry: dict[str, Any] = {"txHash": "0x" + tx.hash.hex()}
        hook = tracer.hook() if isinstance(tracer, CallTracer) else tracer()
        try:
            top, gas_used, gas = _run_next(run, block, hook)
        except TraceUnavailable as e:
            entry["error"] = str(e)
        else:
            entry["result"] = _frame(top, tracer, hook, gas_used, gas) if isinstance(tracer, CallTracer) \
                else _struct_result(top, gas_used, hook)
        out.append(entry)
    return out


def request_trace(state: StateAPI, rules: IsthmusRules, chain_id: int, req: CallRequest, gas: int,
                  overrides: dict[bytes, AccountOverride] | None, tracer: CallTracer | StructLogger) -> dict[str, Any]:
    """`debug_traceCall`: `req` run as `eth_call` runs it (with the state overrides, all undone after), reported as
    a transaction is: the callTracer object or the struct logger's result."""
    hook = tracer.hook() if isinstance(tracer, CallTracer) else tracer
    res = simulate(state, rules, chain_id, req, gas, overrides, tracer=hook)
    if isinstance(tracer, CallTracer):
        return _frame(res.computation, tracer, hook, res.gas_used, gas)
    tracer.flush()
    return _struct_result(res.computation, res.gas_used, tracer)
