"""Our JSON shapes reproduce the real MegaETH node's `eth_getBlockByNumber(n, true)` output exactly."""

from __future__ import annotations

import json
from pathlib import Path

from megaeth_node.types import Block, Log, Receipt
from rpc.format import block_json, receipt_json


def test_blocks_match_the_real_node_json(testdata: Path) -> None:
    for p in sorted((testdata / "blocks").glob("*.json")):
        raw = json.loads(p.read_text())
        ours = block_json(Block.from_rpc(raw), full=True)
        assert ours == raw, p.name


def test_hash_only_blocks(testdata: Path) -> None:
    raw = json.loads(sorted((testdata / "blocks").glob("*.json"))[0].read_text())
    ours = block_json(Block.from_rpc(raw), full=False)
    assert ours["transactions"] == [t["hash"] for t in raw["transactions"]]


def test_receipt_shape(testdata: Path) -> None:
    block = Block.from_rpc(json.loads(sorted((testdata / "blocks").glob("*.json"))[1].read_text()))
    log = Log(b"\x11" * 20, (b"\x22" * 32,), b"\x01")
    receipts = [Receipt(tx.type, 1, 21000 * (i + 1), (log,) if i == 1 else (),
                        0 if tx.type == 0x7E else None, 1 if tx.type == 0x7E else None)
                for i, tx in enumerate(block.transactions)]
    r = receipt_json(block, receipts, 1, 0, None)
    assert r["gasUsed"] == hex(21000) and r["cumulativeGasUsed"] == hex(42000) and r["status"] == "0x1"
    assert r["logs"][0]["logIndex"] == "0x0" and r["logs"][0]["transactionIndex"] == "0x1"
    assert r["contractAddress"] is None and r["from"] == "0x" + block.senders[1].hex()
    dep = receipt_json(block, receipts, 0, 0, None)
    assert dep["depositNonce"] == "0x0" and dep["depositReceiptVersion"] == "0x1" and dep["effectiveGasPrice"] == "0x0"
