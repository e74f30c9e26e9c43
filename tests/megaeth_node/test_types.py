"""Block, header and transaction codecs against the real MegaETH blocks."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import rlp
from trie import HexaryTrie
from eth_hash.auto import keccak as eth_hash_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from megaeth_node.types import (
    DEPOSIT_TX_TYPE, SET_CODE_TX_TYPE, Block, ChainDataError, Log, Receipt, keccak, logs_bloom, ordered_trie_root,
    rlp_encode, verify_block_integrity,
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


_LOGS = st.lists(st.builds(Log, st.binary(min_size=20, max_size=20),
                           st.lists(st.binary(min_size=32, max_size=32), max_size=4).map(tuple),
                           st.binary(max_size=200)), max_size=5).map(tuple)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0, 1, 2, DEPOSIT_TX_TYPE]), st.integers(0, 1), st.integers(0, 2**64), _LOGS,
       st.none() | st.integers(0, 2**64), st.none() | st.integers(0, 3))
def test_receipt_encoding_equals_pyrlp(tx_type: int, status: int, gas: int, logs: tuple[Log, ...],
                                       nonce: int | None, version: int | None) -> None:
    receipt = Receipt(tx_type, status, gas, logs, nonce, version)
    body = [status, gas, logs_bloom(logs), [[lg.address, list(lg.topics), lg.data] for lg in logs]]
    if tx_type == DEPOSIT_TX_TYPE and nonce is not None:
        body += [nonce] if version is None else [nonce, version]
    assert receipt.encode() == (b"" if tx_type == 0 else bytes([tx_type])) + rlp.encode(body)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=90), max_size=300))
def test_ordered_trie_root_equals_py_trie(items: list[bytes]) -> None:
    reference = HexaryTrie({})
    for i, item in enumerate(items):
        reference[rlp.encode(i)] = item
    assert ordered_trie_root(items) == reference.root_hash
    assert ordered_trie_root(iter(items)) == reference.root_hash


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


def _same_as_general_decoder(raw: bytes) -> bool:
    """decode_signed's answer for `raw` is what Transaction.decode + a re-encoding check give: True when it
    took `raw` (then the general decoder accepts it with the same fields, re-encodes it to `raw`, and the
    signing hashes agree), False when it left `raw` to the general decoder."""
    from megaeth_node.types import Transaction, decode_signed
    fast = decode_signed(raw)
    if fast is None:
        return False
    tx, signing_hash = fast
    slow = Transaction.decode(raw)
    assert tx == slow and slow.encode() == raw and tx.encode() == raw and signing_hash == slow.signing_hash()
    return True


def test_decode_signed_takes_real_legacy_and_dynamic_fee_transactions(testdata: Path) -> None:
    txs = [tx for b in _blocks(testdata) for tx in b.transactions]
    taken = {tx.type: _same_as_general_decoder(tx.encode()) for tx in txs}
    assert taken == {0x0: True, 0x2: True, SET_CODE_TX_TYPE: False, DEPOSIT_TX_TYPE: False}


def test_decode_signed_takes_signed_transactions_of_each_form() -> None:
    from eth_account import Account
    from megaeth_node.types import Transaction, decode_signed
    acct = Account.from_key("0x" + "42" * 32)
    base = {"nonce": 0, "gas": 60_000, "value": 10**18, "data": b"\x01" * 100}
    forms = [
        {**base, "gasPrice": 10**9, "chainId": 6342, "to": Account.from_key("0x" + "43" * 32).address},
        {**base, "gasPrice": 10**9, "to": b""},  # pre-EIP-155 (v = 27/28), a creation
        {**base, "type": 2, "chainId": 6342, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 1, "to": b"",
         "accessList": [{"address": "0x" + "11" * 20, "storageKeys": ["0x" + "22" * 32, "0x" + "00" * 32]},
                        {"address": "0x" + "33" * 20, "storageKeys": []}]},
    ]
    for form in forms:
        raw = bytes(acct.sign_transaction(form).raw_transaction)
        assert _same_as_general_decoder(raw), form
        tx, signing_hash = decode_signed(raw)  # type: ignore[misc]
        assert tx.recover_sender(signing_hash) == bytes.fromhex(acct.address[2:])


_ODD = (st.binary(max_size=3).map(lambda b: b"\x00" + b) | st.integers(2**256, 2**264)
        | st.binary(max_size=70) | st.lists(st.binary(max_size=33), max_size=2)
        | st.sampled_from([27, 28, 0, 34]))


def _field(good: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """Mostly a well-formed value, sometimes a wrong one (a non-canonical int, a list, a size off)."""
    return st.integers(0, 15).flatmap(lambda k: _ODD if k == 7 else good)


_UINT = _field(st.integers(0, 2**256 - 1))
_TO = _field(st.sampled_from([b"", b"\x5e" * 20, b"\x5e" * 19]))
_DATA = _field(st.binary(max_size=90))
_ACCESS_ENTRY = st.tuples(st.binary(min_size=19, max_size=21),
                          st.lists(st.binary(min_size=31, max_size=33), max_size=2)).map(list)
_ACCESS = _field(st.lists(_ACCESS_ENTRY, max_size=2))
_TX_SHAPES = st.one_of(
    st.tuples(st.just(b""), st.tuples(_UINT, _UINT, _UINT, _TO, _UINT, _DATA, _UINT, _UINT, _UINT)),
    st.tuples(st.sampled_from([b"\x02", b"\x02", b"\x01", b"\x04"]),
              st.tuples(_UINT, _UINT, _UINT, _UINT, _UINT, _TO, _UINT, _DATA, _ACCESS, _UINT, _UINT, _UINT)),
)


@settings(max_examples=2000, deadline=None)
@given(shape=_TX_SHAPES, more=st.lists(_UINT, max_size=1) | st.just([]),
       edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=2) | st.just([]),
       cut=st.sampled_from([0, 0, 0, 1]))
def test_decode_signed_accepts_only_what_the_general_decoder_accepts(
        shape: tuple[bytes, tuple[object, ...]], more: list[object], edits: list[tuple[int, int]],
        cut: int) -> None:
    """Transaction-shaped RLP (ints as non-canonical strings, wrong sizes, lists in scalar places, an extra
    field, long forms), then bytes overwritten and the tail cut: whatever decode_signed takes, the general
    decoder takes alike."""
    prefix, fields = shape
    raw = bytearray(prefix + rlp_encode([*fields, *more]))
    for pos, byte in edits:
        raw[pos % len(raw)] = byte
    _same_as_general_decoder(bytes(raw[:len(raw) - cut]))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300))
def test_decode_signed_on_arbitrary_bytes(raw: bytes) -> None:
    _same_as_general_decoder(raw)


def test_eip2930_transaction_round_trip() -> None:
    """An EIP-2930 transaction (MegaETH carries type 0x1, as mega-evm's `MegaTxType::Eip2930`) decodes, encodes
    back to the same bytes, hashes and recovers its signer as eth-account signed it."""
    from eth_account import Account

    from megaeth_node.types import ACCESS_LIST_TX_TYPE, Transaction

    key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    signed = Account.sign_transaction({
        "type": 1, "chainId": 6342, "nonce": 3, "gasPrice": 10**9, "gas": 100_000, "to": "0x" + "11" * 20,
        "value": 5, "data": b"\x01\x02", "accessList": [{"address": "0x" + "22" * 20, "storageKeys": ["0x" + "33" * 32]}],
    }, key)
    raw = bytes(signed.raw_transaction)
    tx = Transaction.decode(raw)
    assert tx.type == ACCESS_LIST_TX_TYPE and tx.gas_price == 10**9 and tx.access_list == ((b"\x22" * 20, (b"\x33" * 32,)),)
    assert tx.encode() == raw and tx.hash == bytes(signed.hash)
    assert "0x" + tx.recover_sender().hex() == Account.from_key(key).address.lower()
