"""Real fixture blocks and one-place tampering of them, shared by the validator's tamper tests."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from shared_data import require_shared

from megaeth_node.fixtures import fixture_blocks, load_contracts
from megaeth_node.types import Block, Header

KINDS = ["header", "tx", "salt", "mpt", "parent", "sender"]
HEADER_FIELDS = ["state_root", "receipts_root", "logs_bloom", "gas_used", "withdrawals_root", "transactions_root",
                 "timestamp", "parent_hash"]


@cache
def material(i: int) -> tuple[Block, Block, bytes, bytes]:
    """Fixture block `i` (1–16): its parent block, the block, its .salt and .mpt bytes."""
    fbs = fixture_blocks(require_shared("megaeth-testdata"))
    fb = fbs[i]
    assert fb.salt_path and fb.mpt_path
    return fbs[i - 1].block(), fb.block(), fb.salt_path.read_bytes(), fb.mpt_path.read_bytes()


@cache
def codes() -> dict[bytes, bytes]:
    return load_contracts(require_shared("megaeth-testdata") / "contracts.txt")


def tampered(i: int, kind: str, field: str, pos: int, bit: int) -> tuple[Block, Header, bytes, bytes]:
    """Block `i`, its parent header and witnesses with one thing changed: a header `field`, a transaction's
    value, a witness bit (at `pos`, `bit`), the parent header, or a declared sender."""
    parent_block, block, salt, mpt = material(i)
    parent, h = parent_block.header, block.header
    if kind == "header":
        old = getattr(h, field)
        new = old + 1 if isinstance(old, int) else bytes([old[0] ^ (1 << bit)]) + old[1:]
        block = replace(block, header=replace(h, **{field: new}), hash=replace(h, **{field: new}).hash)
    elif kind == "tx":
        j = pos % len(block.transactions)
        txs = list(block.transactions)
        txs[j] = replace(txs[j], value=txs[j].value + 1 + bit, _hash=b"")
        block = replace(block, transactions=tuple(txs))
    elif kind == "salt":
        k = 80 + pos % (len(salt) - 80)
        salt = salt[:k] + bytes([salt[k] ^ (1 << bit)]) + salt[k + 1:]
    elif kind == "mpt":
        k = pos % len(mpt)
        mpt = mpt[:k] + bytes([mpt[k] ^ (1 << bit)]) + mpt[k + 1:]
    elif kind == "parent":
        parent = replace(parent, gas_limit=parent.gas_limit + 1)
    else:
        j = pos % len(block.senders)
        senders = list(block.senders)
        senders[j] = bytes([senders[j][0] ^ (1 << bit)]) + senders[j][1:]
        block = replace(block, senders=tuple(senders))
    return block, parent, salt, mpt
