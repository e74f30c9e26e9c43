"""Replay fixture blocks (the `shared/megaeth-testdata` layout) and compare gasUsed / receiptsRoot / logsBloom.

Layout (spec/stateless-validator.md §3): `blocks/<n>.<hash>.json` (eth_getBlockByNumber with full txs),
`stateless/witness/<n>.<hash>.salt` (SALT witness: the block-start values of every key the block touches),
`contracts.txt` (code by hash). The witness is read through `WitnessReader` (SALT bucket lookups over the
witnessed slots; §3.5, §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gas.spec import TESTNET, ChainConfig
from salt.store import WitnessState
from salt.witness import decode_witness_file

from megaeth_node.executor.block import BlockResult, InvalidBlock, OpenBlock
from megaeth_node.executor.tracing import OpcodeTracer
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
