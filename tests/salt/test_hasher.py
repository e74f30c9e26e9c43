"""Bucket hasher vectors (spec/salt.md §2.2; upstream hasher.rs tests)."""

from __future__ import annotations

import pytest

from salt.constants import NUM_BUCKETS, NUM_META_BUCKETS
from salt.hasher import ahash, bucket_id, hash_with_nonce

# A few of upstream's SAME_BUCKET_TEST_KEYS (all in bucket 131072).
SAME_BUCKET_KEYS = [
    "e1f65916535230d5abcc5d022348fced0ebcbd16",
    "bd2369b04dd7db579559851609fb9d47c4c64895",
    "1efa3d6eef22ed3971c3ad2c06743880fe147bda",
    "00797d9c751a1e633b3d9d0711469026d8c84278",
]


def test_hash_stability() -> None:
    assert ahash(b"hello") == 1027176506268606463
    assert ahash(b"world") == 2337896903564117184
    assert ahash(b"hash test") == 2116618212096523432


@pytest.mark.parametrize("key", SAME_BUCKET_KEYS)
def test_same_bucket_keys(key: str) -> None:
    assert bucket_id(bytes.fromhex(key)) == 131072


def test_hash_with_nonce_is_key_plus_le32() -> None:
    key = b"test_key"
    assert hash_with_nonce(key, 0) == ahash(key + b"\0\0\0\0")
    assert hash_with_nonce(key, 0x01020304) == ahash(key + bytes([4, 3, 2, 1]))
    assert len({hash_with_nonce(key, n) for n in (0, 1, 2**32 - 1)}) == 3


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7, 8, 9, 16, 17, 24, 32, 33, 56, 128, 132])
def test_all_length_paths_in_range(n: int) -> None:
    data = bytes(range(n)) if n < 256 else bytes(n)
    h = ahash(data)
    assert 0 <= h < 2**64
    assert NUM_META_BUCKETS <= bucket_id(data) < NUM_BUCKETS
