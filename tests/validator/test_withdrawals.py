"""withdrawalsRoot from the MPT witness, checked end to end on the real blocks without an EVM.

Every withdrawal in these blocks is a value transfer to the L2ToL1MessagePasser's `receive()`, which
sets `sentMessages[hashWithdrawal(...)] = true` (mapping at slot 0) and bumps `msgNonce` (slot 1)
(spec/stateless-validator.md §5.2). Applying exactly those updates must give each header's root.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from megaeth_node.types import Block
from salt.types import decode_storage, storage_key
from salt.witness import decode_mpt_witness, decode_witness_file
from validator.withdrawals import MESSAGE_PASSER, WithdrawalsRootError, storage_root_after

VERSION_1 = 1 << 240
RECEIVE_GAS_LIMIT = 100_000


def _word(v: int | bytes) -> bytes:
    return v.rjust(32, b"\0") if isinstance(v, bytes) else v.to_bytes(32, "big")


def _withdrawal_slot(nonce: int, sender: bytes, value: int) -> int:
    encoded = b"".join(_word(x) for x in (VERSION_1 | nonce, sender, sender, value, RECEIVE_GAS_LIMIT, 0xC0, 0))
    return int.from_bytes(keccak(keccak(encoded) + _word(0)), "big")


def _fixture_blocks(testdata: Path) -> list[tuple[Block, Path, Path]]:
    out = []
    for p in sorted((testdata / "blocks").glob("*.json")):
        n, h = p.name.split(".")[:2]
        mpt = testdata / "stateless" / "witness" / f"{n}.{h}.mpt"
        if mpt.exists():
            out.append((Block.from_rpc(json.loads(p.read_text())), mpt, mpt.with_suffix(".salt")))
    return out


def _initial_msg_nonce(salt_path: Path) -> int:
    wanted = storage_key(MESSAGE_PASSER, 1)
    kvs = decode_witness_file(salt_path.read_bytes()).salt_witness.kvs
    return next(decode_storage(v.value) for v in kvs.values() if v is not None and v.key == wanted)


def test_withdrawals_roots_of_real_blocks(testdata: Path) -> None:
    blocks = _fixture_blocks(testdata)
    assert len(blocks) >= 16
    nonce = _initial_msg_nonce(blocks[0][2])
    assert nonce == 0x160
    withdrawals = 0
    for block, mpt_path, _ in blocks:
        mpt = decode_mpt_witness(mpt_path.read_bytes())
        updates: dict[int, int] = {}
        for tx, sender in zip(block.transactions, block.senders):
            if tx.to == MESSAGE_PASSER and tx.value and not tx.data:
                updates[_withdrawal_slot(nonce, sender, tx.value)] = 1
                nonce += 1
                withdrawals += 1
        if updates:
            updates[1] = nonce
        assert storage_root_after(mpt.storage_root, mpt.state, updates) == block.header.withdrawals_root
    assert withdrawals > 0


def test_missing_node_is_reported(testdata: Path) -> None:
    block, mpt_path, _ = _fixture_blocks(testdata)[0]
    mpt = decode_mpt_witness(mpt_path.read_bytes())
    with pytest.raises(WithdrawalsRootError, match="root node"):
        storage_root_after(mpt.storage_root, [], {1: 5})
    with pytest.raises(WithdrawalsRootError, match="needs a node"):
        storage_root_after(mpt.storage_root, mpt.state[:1], {i: 1 for i in range(2, 40)})
