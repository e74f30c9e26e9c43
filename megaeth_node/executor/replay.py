"""Replay fixture blocks (the `shared/megaeth-testdata` layout) and compare gasUsed / receiptsRoot / logsBloom.

Layout (spec/stateless-validator.md §3): `blocks/<n>.<hash>.json` (eth_getBlockByNumber with full txs),
`stateless/witness/<n>.<hash>.salt` (SALT witness: the block-start values of every key the block touches),
`contracts.txt` (code by hash). The witness is read through `WitnessReader` (SALT bucket lookups over the
witnessed slots; §3.5, §6).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from gas.spec import TESTNET, ChainConfig
from salt.store import WitnessState
from salt.witness import decode_witness_file

from megaeth_node.executor.block import BlockResult, InvalidBlock, OpenBlock
from megaeth_node.executor.transact import InvalidTransaction
from megaeth_node.executor.witness import WitnessReader
from megaeth_node.fixtures import fixture_blocks, load_contracts
from megaeth_node.types import Block, receipts_root


def witness_reader(witness: bytes, block: Block, codes: dict[bytes, bytes]) -> WitnessReader:
    """The block-start state a `.salt` witness proves; keys it does not cover raise (never read as absent)."""
    wf = decode_witness_file(witness)
    return WitnessReader(WitnessState(wf.salt_witness), codes, block.header.number, block.header.parent_hash)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    number: int
    result: BlockResult
    block: Block

    @property
    def gas_diff(self) -> int:
        return self.result.gas_used - self.block.header.gas_used

    @property
    def receipts_root_ok(self) -> bool:
        return receipts_root(self.result.receipts) == self.block.header.receipts_root

    @property
    def logs_bloom_ok(self) -> bool:
        return self.result.logs_bloom == self.block.header.logs_bloom


def replay(fixtures: Path, block_number: int | None = None, chain: ChainConfig = TESTNET, out: TextIO | None = None,
           tx_index: int | None = None, trace: TextIO | None = None) -> list[ReplayReport]:
    """Execute every fixture block (or one), print per-tx lines to `out` (only tx `tx_index` when given),
    return per-block reports. With `trace`, tx `tx_index` is traced there (`OpcodeTracer`)."""
    codes = load_contracts(fixtures / "contracts.txt")
    reports = []
    for fb in fixture_blocks(fixtures):
        if fb.salt_path is None or (block_number is not None and fb.number != block_number):
            continue
        block = fb.block()
        run = OpenBlock(witness_reader(fb.salt_path.read_bytes(), block, codes), block.header, chain)
        for i, (tx, sender) in enumerate(zip(block.transactions, block.senders, strict=True)):
            tracer = OpcodeTracer(trace) if trace is not None and i == tx_index else None
            run.evm_state.rex.trace = tracer  # type: ignore[attr-defined]  # None: the untraced loop
            try:
                run.execute(tx, sender)
            except InvalidTransaction as e:
                raise InvalidBlock(f"block {block.header.number} tx {i} ({tx.hash.hex()}): {e}") from e
            finally:
                if tracer is not None:
                    tracer.flush()
        run.evm_state.rex.trace = None  # type: ignore[attr-defined]
        report = ReplayReport(block.header.number, run.finish(), block)
        reports.append(report)
        if out is not None:
            print_report(report, out, tx_index)
    return reports


def _op_name(opcode: int) -> str:
    """The mnemonic (from py-evm's Prague table: MegaETH wrappers keep the opcodes' names)."""
    from eth.vm.forks.prague.computation import PragueComputation

    op = PragueComputation.opcodes.get(opcode)
    name = getattr(op, "mnemonic", None)
    return name if isinstance(name, str) else f"0x{opcode:02x}"


class OpcodeTracer:
    """The `rex.trace` hook as EIP-3155-style JSON lines, one per opcode, in execution order: `pc`, `op`,
    `opName`, `gas` (remaining before the opcode), `gasCost`, `computeGas` (the tx's compute gas before
    the opcode, spec/mega-evm.md §4.1), `computeCost`, `depth` (1 = the tx's frame). The costs are measured
    to the next opcode of the same frame (for CALL*/CREATE* that includes the child frame's net use) or,
    for a frame's last opcode, to the frame's end (an exceptional halt's burnt gas included)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._lines: list[list[Any]] = []  # [computation, entry dict, finished] in execution order
        self._open: dict[int, list[Any]] = {}  # depth → the frame's last unfinished line

    def __call__(self, computation: Any, opcode: int) -> None:
        depth = computation.msg.depth + 1
        gas = computation._gas_meter.gas_remaining
        compute = computation.state.rex.compute_used
        for d in [d for d in self._open if d >= depth]:
            line = self._open.pop(d)
            if d == depth:
                self._finish(line, gas, compute)
            else:
                self._finish(line, line[0]._gas_meter.gas_remaining, compute)
        entry = {"pc": computation.code.program_counter - 1, "op": opcode, "opName": _op_name(opcode),
                 "gas": hex(gas), "gasCost": None, "computeGas": hex(compute), "computeCost": None, "depth": depth}
        line = [computation, entry, False]
        self._lines.append(line)
        self._open[depth] = line
        self._emit_ready()

    @staticmethod
    def _finish(line: list[Any], gas_after: int, compute_after: int) -> None:
        entry = line[1]
        entry["gasCost"] = hex(max(0, int(entry["gas"], 16) - gas_after))
        entry["computeCost"] = hex(max(0, compute_after - int(entry["computeGas"], 16)))
        line[2] = True

    def _emit_ready(self) -> None:
        done = 0
        for line in self._lines:
            if not line[2]:
                break
            print(json.dumps(line[1]), file=self.out)
            done += 1
        if done:
            del self._lines[:done]

    def flush(self) -> None:
        """End of the tx: every frame has ended, so the open lines finish at their frame's final gas."""
        for line in self._open.values():
            self._finish(line, line[0]._gas_meter.gas_remaining, line[0].state.rex.compute_used)
        self._open.clear()
        self._emit_ready()


def print_report(report: ReplayReport, out: TextIO, tx_index: int | None = None) -> None:
    header = report.block.header
    previous = 0
    for i, (tx, r) in enumerate(zip(report.block.transactions, report.result.receipts, strict=True)):
        if tx_index is None or i == tx_index:
            print(f"  tx {i:3d} type {tx.type:#04x} status {r.status} gasUsed {r.cumulative_gas_used - previous:>10,} "
                  f"cumulative {r.cumulative_gas_used:>12,} logs {len(r.logs)}", file=out)
        previous = r.cumulative_gas_used
    print(f"block {report.number}: gasUsed {report.result.gas_used:,} vs header {header.gas_used:,} "
          f"(diff {report.gas_diff:+,}); receiptsRoot {'ok' if report.receipts_root_ok else 'MISMATCH'}; "
          f"logsBloom {'ok' if report.logs_bloom_ok else 'MISMATCH'}", file=out)
