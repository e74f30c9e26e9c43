"""SALT data model: keys, values, bucket metadata, plain encodings, node ids, slot scalars.

Spec: spec/salt.md §2.1 (SaltKey, SaltValue, BucketMeta, metadata placement), §2.4–2.5 (buckets,
subtrees, node ids), §4.2 (`kv_hash`); spec/stateless-validator.md §3.5 (account/storage encodings).
"""

from __future__ import annotations

from typing import NamedTuple

from blake3 import blake3

from salt.banderwagon import R
from salt.constants import (
    BUCKET_SLOT_BITS,
    BUCKET_SLOT_ID_MASK,
    EMPTY_SLOT_HASH,
    MIN_BUCKET_SIZE,
    NUM_META_BUCKETS,
    STARTING_NODE_ID,
)

SALT_VALUE_LEN = 94
KECCAK_EMPTY = bytes.fromhex("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")

# ---- SaltKey: u64 = bucket_id << 40 | slot_id (§2.1) ----


def salt_key(bucket: int, slot: int) -> int:
    """SaltKey of (bucket, slot)."""
    return bucket << BUCKET_SLOT_BITS | slot


def key_bucket(key: int) -> int:
    """Bucket id of a SaltKey."""
    return key >> BUCKET_SLOT_BITS


def key_slot(key: int) -> int:
    """Slot id of a SaltKey."""
    return key & BUCKET_SLOT_ID_MASK


def is_meta_key(key: int) -> bool:
    """True for keys in metadata buckets 0..65535."""
    return key >> BUCKET_SLOT_BITS < NUM_META_BUCKETS


# ---- SaltValue (§2.1) ----


class SaltValue(NamedTuple):
    """A slot's content: plain key and plain value (serialized as the 94-byte array)."""

    key: bytes
    value: bytes

    def to_bytes(self) -> bytes:
        """`key_len ‖ value_len ‖ key ‖ value` zero-padded to 94 bytes."""
        n = 2 + len(self.key) + len(self.value)
        if n > SALT_VALUE_LEN:
            raise ValueError(f"SaltValue too long: {n} > {SALT_VALUE_LEN}")
        return bytes((len(self.key), len(self.value))) + self.key + self.value + bytes(SALT_VALUE_LEN - n)

    @classmethod
    def from_bytes(cls, data: bytes) -> SaltValue:
        """Decode the 94-byte form (padding must fit; it is not checked for zeros)."""
        if len(data) != SALT_VALUE_LEN:
            raise ValueError(f"SaltValue must be {SALT_VALUE_LEN} bytes, got {len(data)}")
        kl, vl = data[0], data[1]
        if 2 + kl + vl > SALT_VALUE_LEN:
            raise ValueError(f"SaltValue lengths overflow: key {kl} + value {vl}")
        return cls(bytes(data[2 : 2 + kl]), bytes(data[2 + kl : 2 + kl + vl]))


def kv_hash(sv: SaltValue | None) -> int:
    """Slot scalar: `LE(BLAKE3(key ‖ value)) mod r`, or `LE(01×32) mod r` for an empty slot (§4.2)."""
    if sv is None:
        return EMPTY_SLOT_SCALAR
    return int.from_bytes(blake3(sv[0] + sv[1]).digest(), "little") % R


EMPTY_SLOT_SCALAR = int.from_bytes(EMPTY_SLOT_HASH, "little") % R

# ---- BucketMeta (§2.1) ----


class BucketMeta(NamedTuple):
    """Bucket metadata; stored as a SaltValue with key = `nonce u32 LE ‖ capacity u64 LE`, value empty."""

    nonce: int = 0
    capacity: int = MIN_BUCKET_SIZE

    def to_value(self) -> SaltValue:
        return SaltValue(self.nonce.to_bytes(4, "little") + self.capacity.to_bytes(8, "little"), b"")

    @classmethod
    def from_value(cls, sv: SaltValue) -> BucketMeta:
        if len(sv.key) != 12 or sv.value:
            raise ValueError(f"not a BucketMeta value: key {sv.key.hex()} value {sv.value.hex()}")
        return cls(int.from_bytes(sv.key[:4], "little"), int.from_bytes(sv.key[4:], "little"))


DEFAULT_META = BucketMeta()
DEFAULT_META_VALUE = DEFAULT_META.to_value()


def metadata_key(bucket: int) -> int:
    """SaltKey holding the metadata of data bucket `bucket`: meta bucket `b >> 8`, slot `b & 0xff`."""
    return salt_key(bucket >> 8, bucket & 0xFF)


def bucket_of_metadata_key(key: int) -> int:
    """Inverse of `metadata_key`."""
    return (key >> BUCKET_SLOT_BITS << 8) + (key & 0xFF)


# ---- Plain keys and values (stateless-validator.md §3.5) ----


def account_key(address: bytes) -> bytes:
    """Plain key of an account: the 20-byte address."""
    if len(address) != 20:
        raise ValueError("address must be 20 bytes")
    return address


def storage_key(address: bytes, slot: int) -> bytes:
    """Plain key of a storage slot: `address(20) ‖ slot(32 BE)`."""
    if len(address) != 20:
        raise ValueError("address must be 20 bytes")
    return address + slot.to_bytes(32, "big")


def encode_account(nonce: int, balance: int, code_hash: bytes = KECCAK_EMPTY) -> bytes | None:
    """`nonce u64 BE ‖ balance u256 BE [‖ code_hash]` (hash omitted when KECCAK_EMPTY); None if empty."""
    if code_hash == KECCAK_EMPTY:
        if nonce == 0 and balance == 0:
            return None
        return nonce.to_bytes(8, "big") + balance.to_bytes(32, "big")
    return nonce.to_bytes(8, "big") + balance.to_bytes(32, "big") + code_hash


def decode_account(value: bytes) -> tuple[int, int, bytes]:
    """(nonce, balance, code_hash) of a 40- or 72-byte account value."""
    if len(value) == 40:
        code_hash = KECCAK_EMPTY
    elif len(value) == 72:
        code_hash = value[40:]
    else:
        raise ValueError(f"account value must be 40 or 72 bytes, got {len(value)}")
    return int.from_bytes(value[:8], "big"), int.from_bytes(value[8:40], "big"), code_hash


def encode_storage(value: int) -> bytes | None:
    """32-byte BE storage value; None (delete) for zero."""
    return value.to_bytes(32, "big") if value else None


def decode_storage(value: bytes) -> int:
    """Storage value of a 32-byte BE encoding."""
    if len(value) != 32:
        raise ValueError(f"storage value must be 32 bytes, got {len(value)}")
    return int.from_bytes(value, "big")


# ---- Node ids (§2.4–2.5) ----

_S = STARTING_NODE_ID
SEGMENT_START = _S[4]  # local id of subtree segment 0
BUCKET_NODE_START = _S[3]  # main-trie id of bucket 0


def node_level(node: int) -> int:
    """BFS level of a node (main trie 0..3, subtree 0..4), from its local number."""
    local = node & BUCKET_SLOT_ID_MASK
    if local >= _S[4]:
        return 4
    if local >= _S[3]:
        return 3
    if local >= _S[2]:
        return 2
    return 1 if local >= 1 else 0


def is_subtree_node(node: int) -> bool:
    """True for bucket-subtree node ids (`bucket << 40 | local`)."""
    return node >> BUCKET_SLOT_BITS != 0


def vc_position(node: int) -> int:
    """Position (0..255) of a node in its parent's vector commitment."""
    local = node & BUCKET_SLOT_ID_MASK
    return (local - _S[node_level(node)]) & 0xFF


def parent_node(node: int) -> int:
    """Parent of a non-root node (stays inside the same subtree namespace)."""
    local = node & BUCKET_SLOT_ID_MASK
    level = node_level(node)
    return node - local + ((local - _S[level]) >> 8) + _S[level - 1]


def child_node(node: int, index: int) -> int:
    """Child `index` (0..255) of a node."""
    local = node & BUCKET_SLOT_ID_MASK
    level = node_level(node)
    return node - local + _S[level + 1] + ((local - _S[level]) << 8) + index


def main_ancestors(level3_ids: list[int], top: int = 0) -> list[int]:
    """Distinct parents of ascending main-trie level-3 nodes (ascending), then theirs, ... up to
    level `top` (0 = the root) (§5.1)."""
    out: list[int] = []
    ids = level3_ids
    for level in range(3, top, -1):
        start, up = _S[level], _S[level - 1]
        ids = sorted({((i - start) >> 8) + up for i in ids})
        out += ids
    return out


def bucket_root_node(bucket: int) -> int:
    """Main-trie level-3 node of a bucket."""
    return BUCKET_NODE_START + bucket


def subtree_node(bucket: int, level: int, index: int) -> int:
    """Subtree node `index` at `level` of `bucket`'s subtree."""
    return bucket << BUCKET_SLOT_BITS | (_S[level] + index)


def subtree_leaf_for_key(key: int) -> int:
    """Segment (subtree level-4 node) holding a SaltKey's slot."""
    return (key >> BUCKET_SLOT_BITS << BUCKET_SLOT_BITS) + ((key & BUCKET_SLOT_ID_MASK) >> 8) + SEGMENT_START


def subtree_root_level(capacity: int) -> int:
    """Subtree level of a bucket's root: 4 for cap ≤ 256, 3 for ≤ 65536, 2 for ≤ 2^24, ... (§2.4)."""
    level = 4
    while capacity > MIN_BUCKET_SIZE:
        level -= 1
        capacity = (capacity + MIN_BUCKET_SIZE - 1) >> 8
    return level
