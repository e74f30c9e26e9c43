"""`debug_traceTransaction` with geth's `callTracer`: re-execute a sealed block from its stored witness up to
the transaction, then turn py-evm's frame tree into call objects (spec/rpc.md §3)."""

from __future__ import annotations

from typing import Any

from eth.abc import ComputationAPI

from gas.spec import ChainConfig
from megaeth_node.executor.block import OpenBlock
from megaeth_node.executor.witness import WitnessReader
from megaeth_node.store import ChainStore
from salt.store import WitnessState
from salt.witness import decode_salt_witness


class TraceUnavailable(LookupError):
    """The block or its witness is not stored, so the transaction cannot be re-executed."""


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _frame(c: ComputationAPI, gas_used: int | None = None) -> dict[str, Any]:
    msg = c.msg
    if msg.is_create:
        kind = "CREATE"
    elif msg.is_static:
        kind = "STATICCALL"
    elif msg.code_address != msg.storage_address:
        kind = "DELEGATECALL" if msg.sender != msg.storage_address else "CALLCODE"
    else:
        kind = "CALL"
    out: dict[str, Any] = {
        "type": kind, "from": _hex(msg.sender), "to": _hex(msg.storage_address), "value": hex(msg.value),
        "gas": hex(msg.gas), "gasUsed": hex(gas_used if gas_used is not None else c.get_gas_used()),
        "input": _hex(msg.data_as_bytes), "output": _hex(c.output),
    }
    if c.is_error:
        out["error"] = "execution reverted" if type(c.error).__name__ == "Revert" else str(c.error) or type(c.error).__name__
    children = [_frame(child) for child in c.children]
    if children:
        out["calls"] = children
    return out


def call_trace(chain: ChainStore, config: ChainConfig, number: int, index: int) -> dict[str, Any]:
    """The callTracer object of transaction `index` of sealed block `number`."""
    block, parent, witness = chain.block(number), chain.header(number - 1), chain.witness(number)
    if block is None or parent is None or witness is None:
        raise TraceUnavailable(f"block {number} or its witness is not stored")
    with chain.env.begin(db=chain.db["codes"]) as txn:
        codes = {bytes(k): bytes(v) for k, v in txn.cursor()}
    reader = WitnessReader(WitnessState(decode_salt_witness(witness[0])), codes, number, parent.hash)
    run = OpenBlock(reader, block.header, config, frames=True)
    for tx, sender in zip(block.transactions[:index], block.senders[:index], strict=True):
        run.execute(tx, sender)
    receipt = run.execute(block.transactions[index], block.senders[index])
    top = run.last_computation
    if top is None:
        raise TraceUnavailable(f"transaction {index} of block {number} did not execute (failed deposit)")
    prior = run.receipts[index - 1].cumulative_gas_used if index else 0
    return _frame(top, receipt.cumulative_gas_used - prior)
