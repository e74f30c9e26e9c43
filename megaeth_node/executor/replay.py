"""Replay fixture blocks (the `shared/megaeth-testdata` layout) and compare gasUsed / receiptsRoot / logsBloom.

Layout (spec/stateless-validator.md §3): `blocks/<n>.<hash>.json` (eth_getBlockByNumber with full txs),
`stateless/witness/<n>.<hash>.salt` (SALT witness: the block-start values of every key the block touches),
`contracts.txt` (code by hash). The witness becomes a `DictState` (account key = 20-byte address, value =
nonce u64 ‖ balance u256 [‖ code hash]; storage key = address ‖ slot, value u256; §3.5).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from gas.spec import TESTNET, ChainConfig
from gas.system import HISTORY_SERVE_WINDOW, HISTORY_STORAGE_ADDRESS
from salt.types import decode_account, decode_storage, is_meta_key
from salt.witness import decode_witness_file

from megaeth_node.executor.block import BlockResult, apply_block
from megaeth_node.executor.state import Account, DictState
from megaeth_node.types import Block, receipts_root


class WitnessState(DictState):
    """Block-start state from a SALT witness; BLOCKHASH(n−1) is the parent hash, older ones come from the
    EIP-2935 history contract's storage (spec/stateless-validator.md §6)."""

    def __init__(self, number: int, parent_hash: bytes, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.number, self.parent_hash = number, parent_hash

    def block_hash(self, number: int) -> bytes:
        if number == self.number - 1:
            return self.parent_hash
        return self.storage(HISTORY_STORAGE_ADDRESS, number % HISTORY_SERVE_WINDOW).to_bytes(32, "big")


def load_contracts(path: Path) -> dict[bytes, bytes]:
    """`contracts.txt`: one `[codeHash, revm Bytecode]` JSON array per line (spec/stateless-validator.md §3.7)."""
    codes: dict[bytes, bytes] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        code_hash, bytecode = json.loads(line)
        if "LegacyAnalyzed" in bytecode:
            raw = bytecode["LegacyAnalyzed"]
            code = bytes.fromhex(raw["bytecode"][2:])[: raw["original_len"]]
        else:
            code = bytes.fromhex(bytecode["Eip7702"]["raw"][2:])
        codes[bytes.fromhex(code_hash[2:])] = code
    return codes


def witness_state(witness: bytes, block: Block, codes: dict[bytes, bytes]) -> WitnessState:
    """The block-start state covered by a `.salt` witness. Keys absent from the witness read as absent:
    telling "proven absent" from "unknown" needs the SALT bucket probing (salt/), not done here."""
    accounts: dict[bytes, Account | None] = {}
    storage: dict[tuple[bytes, int], int | None] = {}
    for key, sv in decode_witness_file(witness).salt_witness.kvs.items():
        if sv is None or is_meta_key(key):
            continue
        if len(sv.key) == 20:
            accounts[sv.key] = Account(*decode_account(sv.value))
        else:
            storage[(sv.key[:20], int.from_bytes(sv.key[20:], "big"))] = decode_storage(sv.value)
    return WitnessState(block.header.number, block.header.parent_hash, accounts=accounts, storage=storage,
                        codes=codes)


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


def fixture_blocks(fixtures: Path) -> Iterator[tuple[Block, Path]]:
    """(block, witness path) in block order, for blocks that have a witness."""
    for path in sorted((fixtures / "blocks").glob("*.json"), key=lambda p: int(p.name.split(".")[0])):
        witness = fixtures / "stateless" / "witness" / (path.name.removesuffix(".json") + ".salt")
        if witness.is_file():
            yield Block.from_rpc(json.loads(path.read_text())), witness


def replay(fixtures: Path, block_number: int | None = None, chain: ChainConfig = TESTNET,
           out: TextIO | None = None) -> list[ReplayReport]:
    """Execute every fixture block (or one), print per-tx lines to `out`, return per-block reports."""
    codes = load_contracts(fixtures / "contracts.txt")
    reports = []
    for block, witness in fixture_blocks(fixtures):
        if block_number is not None and block.header.number != block_number:
            continue
        result = apply_block(witness_state(witness.read_bytes(), block, codes), block, chain)
        report = ReplayReport(block.header.number, result, block)
        reports.append(report)
        if out is not None:
            print_report(report, out)
    return reports


def print_report(report: ReplayReport, out: TextIO) -> None:
    header = report.block.header
    previous = 0
    for i, (tx, r) in enumerate(zip(report.block.transactions, report.result.receipts, strict=True)):
        print(f"  tx {i:3d} type {tx.type:#04x} status {r.status} gasUsed {r.cumulative_gas_used - previous:>10,} "
              f"cumulative {r.cumulative_gas_used:>12,} logs {len(r.logs)}", file=out)
        previous = r.cumulative_gas_used
    print(f"block {report.number}: gasUsed {report.result.gas_used:,} vs header {header.gas_used:,} "
          f"(diff {report.gas_diff:+,}); receiptsRoot {'ok' if report.receipts_root_ok else 'MISMATCH'}; "
          f"logsBloom {'ok' if report.logs_bloom_ok else 'MISMATCH'}", file=out)
