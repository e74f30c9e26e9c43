"""The sequencer in-process: mini-blocks, sealing, journal recovery, and every block it seals
validating statelessly from its own witness (issue: "validate every block this node produces")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import rlp
from eth_hash.auto import keccak
from eth_account import Account
from eth_utils import to_checksum_address

from megaeth_node.errors import NonceTooLow, ReplacementUnderpriced
from megaeth_node.genesis import dev_accounts, dev_chain
from megaeth_node.sequencer import Sequencer, SequencerSettings
from salt.witness import WitnessFile, decode_salt_witness, encode_witness_file
from validator.core import validate_block

ACCOUNTS = dev_accounts()
CHAIN = dev_chain(6342)
STORE_42 = bytes.fromhex("602a60005500")  # SSTORE(0, 42)
INIT = bytes.fromhex("6006600c60003960066000f3") + STORE_42  # returns STORE_42 as runtime code


def _node(path: Path) -> Sequencer:
    return Sequencer(SequencerSettings(CHAIN, path, block_time_ms=1000,
                                       alloc={a.address: 10**24 for a in ACCOUNTS}))


def _signed(i: int, nonce: int, to: bytes | None, value: int = 0, data: bytes = b"") -> bytes:
    tx = {"value": value, "gas": 500_000, "maxFeePerGas": 10**8, "maxPriorityFeePerGas": 10**6, "nonce": nonce,
          "chainId": 6342, "data": data}
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return bytes(Account.sign_transaction(tx, ACCOUNTS[i].private_key).raw_transaction)


def _validate_all(node: Sequencer) -> int:
    codes = {}
    with node.env.begin(db=node.chain.db["codes"]) as txn:
        codes = {bytes(k): bytes(v) for k, v in txn.cursor()}
    assert node.head.number >= 1
    for n in range(1, node.head.number + 1):
        parent, block = node.chain.header(n - 1), node.chain.block(n)
        wit = node.chain.witness(n)
        assert parent and block and wit
        salt = encode_witness_file(WitnessFile(bytes(32), parent.hash, decode_salt_witness(wit[0])))
        verdict = validate_block(block, parent, salt, wit[1], codes, CHAIN)
        assert verdict.valid, verdict
    return node.head.number


def test_blocks_seal_and_validate_statelessly(tmp_path: Path) -> None:
    node = _node(tmp_path)

    async def go() -> None:
        await node.submit(_signed(0, 0, b"\x11" * 20, value=5))
        await node.submit(_signed(1, 0, None, data=INIT))
        await node.submit(_signed(0, 1, b"\x22" * 20, value=7))
        with pytest.raises(ReplacementUnderpriced):
            await node.submit(_signed(0, 0, b"\x11" * 20, value=6))

    asyncio.run(go())
    mb = node._mini_block()
    assert mb is not None and len(mb.transactions) == 3 and all(r.status == 1 for r in mb.receipts)
    block, receipts = node._seal()
    assert len(block.transactions) == 3 and node.head == block.header
    created = keccak(rlp.encode([ACCOUNTS[1].address, 0]))[12:]
    assert node.building().run.evm_state.get_code(created) == STORE_42
    assert node.building().run.evm_state.get_storage(created, 0) == 0  # runtime code not run yet
    with pytest.raises(NonceTooLow):
        asyncio.run(node.submit(_signed(0, 0, b"\x11" * 20, value=6)))
    asyncio.run(node.submit(_signed(2, 0, b"\x33" * 20, value=1)))
    node._mini_block()
    node._seal()
    node._seal()  # an empty block
    assert _validate_all(node) == 3


def test_journal_recovers_acknowledged_transactions(tmp_path: Path) -> None:
    node = _node(tmp_path)
    asyncio.run(node.submit(_signed(3, 0, b"\x44" * 20, value=9)))
    mb = node._mini_block()
    assert mb is not None
    node.env.close()  # a crash: the block was never sealed
    again = _node(tmp_path)
    assert again.recovered == 1
    block, _ = again._seal()
    assert [t.hash for t in block.transactions] == [t.hash for t in mb.transactions]
    assert again.chain.journal() == []
