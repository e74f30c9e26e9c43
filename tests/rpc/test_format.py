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


def test_mini_block_receipts_in_the_subscription_have_block_positions(testdata: Path) -> None:
    """A `miniBlocks` notification's receipts are the ones eth_sendRawTransactionSync returns: log and
    transaction indexes counted in the whole block, own gas, no block hash anywhere, a create's address."""
    from dataclasses import replace

    from megaeth_node.sequencer import MiniBlock
    from rpc.format import mini_block_receipt
    from rpc.subscriptions import Connection, Hub

    block = Block.from_rpc(json.loads(sorted((testdata / "blocks").glob("*.json"))[1].read_text()))
    txs = (block.transactions[1], replace(block.transactions[2], to=None))
    log = Log(b"\x11" * 20, (b"\x22" * 32,), b"\x01")
    receipts = (Receipt(txs[0].type, 1, 1_060_000, (log,), None, None),
                Receipt(txs[1].type, 1, 1_160_000, (log, log), None, None))
    mb = MiniBlock(7, block.header.number, 3, 0, 5, 1_000_000, txs, block.senders[1:3], receipts, block.header,
                   prior_logs=4)
    hub, conn = Hub(), Connection()
    hub.connections.add(conn)
    hub.subscribe(conn, ["miniBlocks"])
    hub.on_mini_block(mb, block.header)
    got = json.loads(conn.queue.get_nowait())["params"]["result"]["receipts"]
    assert got == [mini_block_receipt(mb, block.header, i) for i in range(2)]
    assert [lg["logIndex"] for r in got for lg in r["logs"]] == ["0x4", "0x5", "0x6"]
    assert [r["transactionIndex"] for r in got] == ["0x5", "0x6"] and got[1]["logs"][0]["transactionIndex"] == "0x6"
    assert [r["gasUsed"] for r in got] == [hex(60_000), hex(100_000)]
    assert got[0]["contractAddress"] is None and got[1]["contractAddress"] is not None
    assert all(r["blockHash"] is None and all(lg["blockHash"] is None for lg in r["logs"]) for r in got)


def test_fee_history_rewards_as_geth_computes_them(testdata: Path) -> None:
    """Rewards are effective tips at gas-weighted percentiles of the block's transactions sorted by tip
    (geth `feehistory.go`); a deposit's tip is 0; an empty block's row is zeros."""
    from dataclasses import replace

    from rpc.methods_eth import block_rewards

    block = Block.from_rpc(json.loads(sorted((testdata / "blocks").glob("*.json"))[1].read_text()))
    base = block.header.base_fee_per_gas or 0
    deposit, tx = block.transactions[0], block.transactions[1]
    txs = (deposit, replace(tx, type=2, max_fee_per_gas=base + 500, max_priority_fee_per_gas=300),
           replace(tx, type=2, max_fee_per_gas=base + 100, max_priority_fee_per_gas=900))  # tip capped at 100
    receipts = [Receipt(t.type, 1, g, (), None, None) for t, g in zip(txs, (50_000, 350_000, 400_000))]
    b = replace(block, header=replace(block.header, gas_used=400_000), transactions=txs, senders=block.senders[:3])
    # by tip: deposit 0 (50k gas), 100 (50k), 300 (300k); cumulative 50k, 100k, 400k of 400k
    assert block_rewards(b, receipts, [0, 12.5, 20, 25.1, 100]) == [0, 0, 100, 300, 300]
    assert block_rewards(replace(b, transactions=()), [], [10, 90]) == [0, 0]
