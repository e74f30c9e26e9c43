"""Bucket hasher: de-randomised AHash "fallback" with fixed seeds (spec/salt.md §2.2).

All arithmetic is u64 wrapping. `bucket_id` maps a plain key to a data bucket; `hash_with_nonce`
is the probe hash inside a bucket.
"""

from __future__ import annotations

from struct import Struct

from salt.constants import HASHER_SEEDS, NUM_KV_BUCKETS, NUM_META_BUCKETS

_M = (1 << 64) - 1
_PI2 = (0x452821E638D01377, 0xBE5466CF34E90C6C, 0xC0AC29B7C97C50DD, 0x3F84D5B5B5470917)
_K0, _K1, _K2, _K3 = (s ^ p for s, p in zip(HASHER_SEEDS, _PI2, strict=True))
_MULTIPLE = 6364136223846793005
_LE2Q = Struct("<2Q")
_QSTRUCTS = [Struct(f"<{2 * k}Q") for k in range(8)]  # k 16-byte blocks (keys up to 128 bytes)


def ahash(data: bytes) -> int:
    """AHash fallback of `data` (one `write` call: length prefix, then the bytes) as a u64."""
    n = len(data)
    buf = ((_K1 + n) * _MULTIPLE) & _M
    pad = _K0
    if n > 16:
        lo, hi = _LE2Q.unpack_from(data, n - 16)
        k = (n - 1) >> 4
        words = (lo, hi) + (_QSTRUCTS[k] if k < 8 else Struct(f"<{2 * k}Q")).unpack_from(data)
    elif n > 8:
        words = (int.from_bytes(data[:8], "little"), int.from_bytes(data[n - 8 :], "little"))
    elif n >= 4:
        words = (int.from_bytes(data[:4], "little"), int.from_bytes(data[n - 4 :], "little"))
    elif n >= 2:
        words = (data[0] | data[1] << 8, data[n - 1])
    elif n == 1:
        words = (data[0], data[0])
    else:
        words = (0, 0)
    it = iter(words)
    for lo, hi in zip(it, it):
        p = (lo ^ _K2) * (hi ^ _K3)
        x = ((buf + pad) & _M) ^ ((p ^ (p >> 64)) & _M)
        buf = ((x << 23) | (x >> 41)) & _M
    p = buf * pad
    x = (p ^ (p >> 64)) & _M
    r = buf & 63
    return ((x << r) | (x >> (64 - r))) & _M


def bucket_id(plain_key: bytes) -> int:
    """Data bucket of a plain key: `hash mod NUM_KV_BUCKETS + NUM_META_BUCKETS` (§2.2)."""
    return ahash(plain_key) % NUM_KV_BUCKETS + NUM_META_BUCKETS


def hash_with_nonce(plain_key: bytes, nonce: int) -> int:
    """Probe hash inside a bucket: `hash(key ‖ LE32(nonce))` (§2.2)."""
    return ahash(plain_key + nonce.to_bytes(4, "little"))
