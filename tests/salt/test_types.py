"""Data-model helpers (spec/salt.md §2.1, §2.4, §2.5, §4.2; stateless-validator.md §3.5)."""

from __future__ import annotations

import pytest
from blake3 import blake3

from salt.banderwagon import R
from salt.types import (
    DEFAULT_META_VALUE,
    KECCAK_EMPTY,
    BucketMeta,
    SaltValue,
    bucket_of_metadata_key,
    child_node,
    decode_account,
    decode_storage,
    encode_account,
    encode_storage,
    key_bucket,
    key_slot,
    kv_hash,
    metadata_key,
    node_level,
    parent_node,
    salt_key,
    storage_key,
    subtree_leaf_for_key,
    subtree_root_level,
    vc_position,
)


@pytest.mark.parametrize(
    ("bucket", "meta"),
    [(65536, (256, 0)), (65537, (256, 1)), (65791, (256, 255)), (65792, (257, 0)),
     (100000, (390, 160)), (16777215, (65535, 255))],
)
def test_metadata_placement(bucket: int, meta: tuple[int, int]) -> None:
    k = metadata_key(bucket)
    assert (key_bucket(k), key_slot(k)) == meta
    assert bucket_of_metadata_key(k) == bucket


def test_salt_value_roundtrip_and_default_meta() -> None:
    sv = SaltValue(b"\xaa" * 20, b"\xbb" * 40)
    raw = sv.to_bytes()
    assert len(raw) == 94 and raw[:2] == bytes([20, 40]) and SaltValue.from_bytes(raw) == sv
    assert DEFAULT_META_VALUE.to_bytes() == bytes.fromhex("0c00" "00000000" "0001000000000000") + bytes(80)
    assert BucketMeta.from_value(BucketMeta(7, 1024).to_value()) == BucketMeta(7, 1024)
    with pytest.raises(ValueError):
        SaltValue(b"k" * 60, b"v" * 40).to_bytes()


def test_kv_hash() -> None:
    assert kv_hash(None) == int.from_bytes(b"\x01" * 32, "little") % R
    sv = SaltValue(b"key", b"value")
    assert kv_hash(sv) == int.from_bytes(blake3(b"keyvalue").digest(), "little") % R


def test_plain_encodings() -> None:
    addr = bytes(range(20))
    assert storage_key(addr, 1) == addr + (1).to_bytes(32, "big")
    assert encode_account(0, 0) is None
    v = encode_account(1, 10**18)
    assert v is not None and len(v) == 40 and decode_account(v) == (1, 10**18, KECCAK_EMPTY)
    c = encode_account(0, 0, b"\x11" * 32)
    assert c is not None and len(c) == 72 and decode_account(c)[2] == b"\x11" * 32
    assert encode_storage(0) is None and decode_storage(encode_storage(5) or b"") == 5


def test_node_ids() -> None:
    assert [node_level(n) for n in (0, 1, 256, 257, 65792, 65793, 16843008)] == [0, 1, 1, 2, 2, 3, 3]
    assert [vc_position(n) for n in (1, 128, 256, 257, 512, 513, 65793, 65793 + 256)] == [
        0, 127, 255, 0, 255, 0, 0, 0]
    assert vc_position((100000 << 40) | 1000) == 231
    assert parent_node(65793 + 70000) == 257 + 70000 // 256 and parent_node(300) == 1
    for n in (5, 300, 65793 + 123456, (100000 << 40) | 16843009 + 700, (100000 << 40) | 300):
        assert child_node(parent_node(n), vc_position(n)) == n
    k = salt_key(100000, 1500)
    assert subtree_leaf_for_key(k) == (100000 << 40) + 16843009 + 5
    assert [subtree_root_level(c) for c in (256, 257, 65536, 65537, 2**24, 2**24 + 1, 2**32, 2**33)] == [
        4, 3, 3, 2, 2, 1, 1, 0]
