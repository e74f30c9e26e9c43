"""Block, header and transaction codecs against the real MegaETH blocks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import rlp
from eth_hash.auto import keccak as eth_hash_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from megaeth_node.types import (
    DEPOSIT_TX_TYPE, SET_CODE_TX_TYPE, Block, ChainDataError, Log, Receipt, keccak, logs_bloom, rlp_encode,
    verify_block_integrity,
)

_RLP_ITEMS = st.recursive(st.binary(max_size=80) | st.integers(0, 2**300),
                          lambda inner: st.lists(inner, max_size=6), max_leaves=30)


def _blocks(testdata: Path) -> list[Block]:
    return [Block.from_rpc(json.loads(p.read_text())) for p in sorted((testdata / "blocks").glob("*.json"))]


def test_every_real_block_is_intact(testdata: Path) -> None:
    blocks = _blocks(testdata)
    assert len(blocks) >= 17
    types = set()
    for b in blocks:
        verify_block_integrity(b)
        types |= {tx.type for tx in b.transactions}
    assert types == {0x0, 0x2, SET_CODE_TX_TYPE, DEPOSIT_TX_TYPE}


def test_blocks_link_to_their_parents(testdata: Path) -> None:
    blocks = _blocks(testdata)
    for parent, child in zip(blocks, blocks[1:]):
        assert child.header.parent_hash == parent.hash and child.header.number == parent.header.number + 1


def test_authorities_recover(testdata: Path) -> None:
    auths = [a for b in _blocks(testdata) for tx in b.transactions for a in tx.authorization_list]
    assert auths and all(a.authority() is not None for a in auths)


@pytest.mark.parametrize("field, value", [("gas_used", 1), ("state_root", b"\x11" * 32), ("timestamp", 7)])
def test_tampered_header_is_rejected(testdata: Path, field: str, value: object) -> None:
    b = _blocks(testdata)[1]
    bad = replace(b, header=replace(b.header, **{field: value}))
    with pytest.raises(ChainDataError, match="header hash"):
        verify_block_integrity(bad)


def test_tampered_transaction_is_rejected(testdata: Path) -> None:
    b = _blocks(testdata)[1]
    tx = b.transactions[1]
    bad_tx = replace(tx, value=tx.value + 1)
    with pytest.raises(ChainDataError, match="tx 1"):
        verify_block_integrity(replace(b, transactions=(b.transactions[0], bad_tx, *b.transactions[2:])))


def test_wrong_sender_is_rejected(testdata: Path) -> None:
    b = _blocks(testdata)[1]
    senders = (b.senders[0], b"\x01" * 20, *b.senders[2:])
    with pytest.raises(ChainDataError, match="signer"):
        verify_block_integrity(replace(b, senders=senders))


def test_receipt_encoding_carries_deposit_fields() -> None:
    log = Log(b"\xaa" * 20, (b"\x01" * 32,), b"data")
    plain = Receipt(0x2, 1, 21000, (log,))
    dep = Receipt(DEPOSIT_TX_TYPE, 1, 21000, (log,), deposit_nonce=5, deposit_receipt_version=1)
    assert plain.encode()[0] == 0x2 and dep.encode()[0] == DEPOSIT_TX_TYPE
    assert len(dep.encode()) == len(plain.encode()) + 2
    assert plain.bloom == logs_bloom([log]) and int.from_bytes(plain.bloom, "big").bit_count() <= 6


def test_decode_round_trips_every_real_transaction(testdata: Path) -> None:
    from megaeth_node.types import Transaction
    n = 0
    for b in _blocks(testdata):
        for tx in b.transactions:
            again = Transaction.decode(tx.encode())
            assert again.encode() == tx.encode() and again.hash == tx.hash
            n += 1
    assert n > 1000


@pytest.mark.parametrize("raw", [b"", b"\x05\xc0", b"\x02\xc0", b"\xc3\x01\x02\x03", b"\x02\xff", b"\x7e\xc1\x80"])
def test_decode_rejects_malformed(raw: bytes) -> None:
    from megaeth_node.types import Transaction
    with pytest.raises(ChainDataError):
        Transaction.decode(raw)


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(max_size=300))
def test_decode_never_raises_anything_but_chain_data_error(raw: bytes) -> None:
    from megaeth_node.types import Transaction
    try:
        Transaction.decode(raw)
    except ChainDataError:
        pass


def test_logs_bloom_matches_eth_bloom() -> None:
    """Our cached three-bit bloom against py-evm's bloom library, on random logs (repeated items included)."""
    import random

    from eth_bloom import BloomFilter

    rng = random.Random(7)
    items = [rng.randbytes(32) for _ in range(40)]
    for _ in range(200):
        logs = [Log(rng.randbytes(20), tuple(rng.sample(items, rng.randrange(5))), b"") for _ in range(rng.randrange(6))]
        reference = BloomFilter()
        for log in logs:
            reference.add(log.address)
            for topic in log.topics:
                reference.add(topic)
        assert logs_bloom(logs) == int(reference).to_bytes(256, "big")


@settings(max_examples=500, deadline=None)
@given(_RLP_ITEMS)
def test_rlp_encode_equals_pyrlp(item: object) -> None:
    assert rlp_encode(item) == rlp.encode(item)  # type: ignore[arg-type]


def test_rlp_encode_rejects_negative_integers_and_other_types() -> None:
    for bad in ([1, -1], [bytearray(b"ab")], "text", None):
        with pytest.raises(ChainDataError):
            rlp_encode(bad)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_keccak_equals_eth_hash(data: bytes) -> None:
    assert keccak(data) == eth_hash_keccak(data)
