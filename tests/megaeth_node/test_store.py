"""Chain store on a real LMDB environment: blocks, receipts, tx index, log queries, journal, schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from megaeth_node.store import ChainStore, open_env
from megaeth_node.types import Block, Log, Receipt, Transaction

TOKEN = b"\x7e" * 20
TRANSFER = b"\x01" * 32


def _receipts(block: Block) -> list[Receipt]:
    out, gas = [], 0
    for i, tx in enumerate(block.transactions):
        gas += 21000
        logs = (Log(TOKEN, (TRANSFER, i.to_bytes(32, "big")), b"x"),) if i % 3 == 1 else ()
        out.append(Receipt(tx.type, 1, gas, logs, deposit_nonce=7 if tx.type == 0x7E else None,
                           deposit_receipt_version=1 if tx.type == 0x7E else None))
    return out


@pytest.fixture()
def filled(tmp_path: Path, testdata: Path) -> tuple[ChainStore, list[Block]]:
    store = ChainStore(open_env(tmp_path / "db"))
    blocks = [Block.from_rpc(json.loads(p.read_text())) for p in sorted((testdata / "blocks").glob("*.json"))][:5]
    for b in blocks:
        with store.env.begin(write=True) as txn:
            store.write_block(txn, b, _receipts(b))
    return store, blocks


def test_blocks_and_receipts_round_trip(filled: tuple[ChainStore, list[Block]]) -> None:
    store, blocks = filled
    assert store.head() == blocks[-1].header.number
    for b in blocks:
        got = store.block(b.header.number)
        assert got is not None and got.hash == b.hash and got.header == b.header
        assert [t.hash for t in got.transactions] == [t.hash for t in b.transactions] and got.senders == b.senders
        assert store.number_of(b.hash) == b.header.number
        assert store.receipts(b.header.number) == _receipts(b)
    tx = blocks[2].transactions[4]
    assert store.tx_location(tx.hash) == (blocks[2].header.number, 4)
    assert store.block(10**9) is None and store.tx_location(b"\0" * 32) is None


def test_log_queries(filled: tuple[ChainStore, list[Block]]) -> None:
    store, blocks = filled
    lo, hi = blocks[0].header.number, blocks[-1].header.number
    everything = list(store.logs(lo, hi))
    by_addr = list(store.logs(lo, hi, addresses=[TOKEN]))
    assert everything == by_addr and len(everything) == sum(len(b.transactions) // 3 for b in blocks) + sum(
        1 for b in blocks if len(b.transactions) % 3 == 2)
    one = list(store.logs(lo, hi, topics=[[TRANSFER], [(4).to_bytes(32, "big")]]))
    assert {x.tx_index for x in one} == {4} and len(one) == len(blocks)
    assert list(store.logs(lo, hi, addresses=[b"\x02" * 20])) == []
    assert list(store.logs(lo, hi, topics=[None, [b"\x09" * 32]])) == []
    assert [x.log_index for x in store.logs(lo, lo)] == list(range(len(list(store.logs(lo, lo)))))


def test_journal_survives_reopen_and_clears(tmp_path: Path) -> None:
    tx = Transaction(type=2, chain_id=1, nonce=0, gas=21000, to=b"\x01" * 20, value=1, data=b"",
                     max_fee_per_gas=2, max_priority_fee_per_gas=1, v=0, r=1, s=1)
    store = ChainStore(open_env(tmp_path / "db"))
    with store.env.begin(write=True) as txn:
        store.journal_mini_block(txn, 5, 0, 77, [tx.encode()])
        store.journal_mini_block(txn, 5, 1, 77, [tx.encode(), tx.encode()])
        store.journal_mini_block(txn, 5, 2, 77, [])  # the close marker
        store.journal_mini_block(txn, 6, 0, 78, [tx.encode()])  # the next block, opened while 5 seals
    store.env.close()
    store = ChainStore(open_env(tmp_path / "db"))
    assert [(n, i, ts, len(t)) for n, i, ts, t in store.journal()] == [
        (5, 0, 77, 1), (5, 1, 77, 2), (5, 2, 77, 0), (6, 0, 78, 1)]
    with store.env.begin(write=True) as txn:
        store.clear_journal(txn, 5)
    assert [(n, i) for n, i, _, _ in store.journal()] == [(6, 0)]
    with store.env.begin(write=True) as txn:
        store.clear_journal(txn, 6)
    assert store.journal() == []


def test_schema_mismatch_is_refused(tmp_path: Path) -> None:
    store = ChainStore(open_env(tmp_path / "db"))
    with store.env.begin(write=True) as txn:
        txn.put(b"schema", (99).to_bytes(8, "big"), db=store.db["meta"])
    with pytest.raises(RuntimeError, match="schema 99"):
        ChainStore(store.env)


def test_numbers_no_block_can_have_are_absent(tmp_path: Path) -> None:
    """A client may name any block number (a 160-bit one from a fuzzer, a negative one from a bug): no entry,
    never an error from packing the key."""
    store = ChainStore(open_env(tmp_path / "db"))
    for n in (1 << 64, 0xABAB << 144, -1):
        assert store.header(n) is None and store.block(n) is None
        assert store.receipts(n) is None and store.witness(n) is None
