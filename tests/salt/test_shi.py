"""SHI bucket table and StateUpdates (spec/salt.md §2.3; upstream state.rs / updates.rs semantics)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salt.constants import BUCKET_SLOT_BITS
from salt.hasher import hash_with_nonce
from salt.shi import ShiState, StateUpdates, compute_resize_capacity
from salt.types import DEFAULT_META, BucketMeta, SaltValue, metadata_key

BUCKET = 131072


class MemSlots:
    """Dict-backed SlotReader; `known_used=False` emulates stateless mode (usage count unknown)."""

    def __init__(self, slots: dict[int, SaltValue] | None = None, known_used: bool = True) -> None:
        self.slots = dict(slots or {})
        self.known_used = known_used

    def slot_value(self, key: int) -> SaltValue | None:
        return self.slots.get(key)

    def bucket_meta(self, bucket: int) -> BucketMeta:
        v = self.slots.get(metadata_key(bucket))
        return DEFAULT_META if v is None else BucketMeta.from_value(v)

    def bucket_used(self, bucket: int) -> int | None:
        if not self.known_used:
            return None
        return sum(1 for k in self.slots if k >> BUCKET_SLOT_BITS == bucket)

    def plain_lookup(self, plain_key: bytes) -> int | None:
        return None


def one_bucket(store: MemSlots) -> ShiState:
    return ShiState(store, bucket_of=lambda _k: BUCKET)


def layout(state: ShiState) -> tuple[BucketMeta, dict[int, SaltValue]]:
    """(metadata, occupied slots) of BUCKET after a batch."""
    meta = state.meta(BUCKET)
    base = BUCKET << BUCKET_SLOT_BITS
    return meta, {s: v for s in range(meta.capacity) if (v := state.value(base | s)) is not None}


def check_invariant(state: ShiState) -> None:
    """Every slot between a key's ideal slot and its actual slot holds a larger key; find() finds it."""
    meta, slots = layout(state)
    cap = meta.capacity
    for s, v in slots.items():
        h = hash_with_nonce(v.key, meta.nonce) % cap
        for i in range((s - h) % cap):
            other = slots.get((h + i) % cap)
            assert other is not None and other.key > v.key
        assert state.find(v.key) == ((BUCKET << BUCKET_SLOT_BITS) | s, v)


def test_state_updates_chaining() -> None:
    a, b, c = (SaltValue(b"k", bytes([i])) for i in range(3))
    u = StateUpdates()
    u.add(1, None, a)
    u.add(1, a, b)
    assert u.data == {1: (None, b)}
    u.add(1, b, None)
    assert u.data == {}
    u.add(2, a, a)
    assert u.data == {}
    other = StateUpdates({3: (a, b)})
    u.add(3, None, a)
    u.merge(other)
    assert u.data == {3: (None, b)}
    assert u.inverse().data == {3: (b, None)}
    with pytest.raises(ValueError):
        u.add(3, c, a)


def test_compute_resize_capacity() -> None:
    assert compute_resize_capacity(256, 204) == 256
    assert compute_resize_capacity(256, 205) == 512
    assert compute_resize_capacity(256, 1000) == 2048


def test_delete_equals_never_inserted() -> None:
    rng = random.Random(7)
    keys = [rng.randbytes(rng.choice((20, 52))) for _ in range(150)]
    full = one_bucket(MemSlots())
    full.update_fin([(k, b"v") for k in keys])
    gone = set(rng.sample(keys, 60))
    full.update_fin([(k, None) for k in gone])
    fresh = one_bucket(MemSlots())
    fresh.update_fin([(k, b"v") for k in keys if k not in gone])
    assert layout(full) == layout(fresh)
    check_invariant(full)
    assert all(full.find(k) is None for k in gone)


ops_keys = st.lists(st.binary(min_size=1, max_size=6), min_size=1, max_size=260, unique=True)


@settings(max_examples=25, deadline=None)
@given(final=ops_keys, noise=st.lists(st.binary(min_size=7, max_size=8), max_size=40, unique=True),
       seed=st.integers(0, 2**32))
def test_history_independence(final: list[bytes], noise: list[bytes], seed: int) -> None:
    """Different op orders (with transient keys and value churn) reaching one final set: same layout."""
    rng = random.Random(seed)
    target = {k: bytes([len(k)]) for k in final}

    def run(order_seed: int) -> tuple[BucketMeta, dict[int, SaltValue]]:
        r = random.Random(order_seed)
        ops: list[tuple[bytes, bytes | None]] = [(k, b"tmp") for k in noise]
        ops += [(k, b"old") for k in final if r.random() < 0.5]
        ops += [(k, v) for k, v in target.items() if r.random() < 0.5]
        r.shuffle(ops)
        ops += [(k, None) for k in noise]
        tail = list(target.items())
        r.shuffle(tail)
        ops += tail
        state = one_bucket(MemSlots())
        state.update_fin(ops)
        check_invariant(state)
        return layout(state)

    first = run(rng.getrandbits(32))
    assert first == run(rng.getrandbits(32))
    assert first[0].capacity == compute_resize_capacity(256, len(final))
    assert {v.key: v.value for v in first[1].values()} == target


def test_resize_at_load_factor_and_canonicalize() -> None:
    keys = [bytes([i % 256, i // 256]) for i in range(230)]
    state = one_bucket(MemSlots())
    ups = state.update_fin([(k, b"x") for k in keys])
    meta, slots = layout(state)
    assert meta == BucketMeta(0, 512) and len(slots) == 230
    mk = metadata_key(BUCKET)
    assert ups.data[mk] == (DEFAULT_META.to_value(), BucketMeta(0, 512).to_value())
    # Inserting then deleting past the threshold within one batch leaves the capacity unchanged.
    state2 = one_bucket(MemSlots())
    state2.update_fin([(k, b"x") for k in keys] + [(k, None) for k in keys[100:]])
    assert layout(state2)[0] == DEFAULT_META and mk not in state2.update_fin([])


def test_stateless_no_load_factor_resize_but_forced_expansion() -> None:
    keys = [bytes([i % 256, i // 256]) for i in range(257)]
    state = one_bucket(MemSlots(known_used=False))
    state.update_fin([(k, b"x") for k in keys[:256]])
    assert layout(state)[0].capacity == 256  # full, no load-factor resize without a usage count
    state.update_fin([(keys[256], b"x")])
    meta, slots = layout(state)
    assert meta.capacity == 512 and len(slots) == 257
    check_invariant(state)


def test_set_nonce_rehashes() -> None:
    state = one_bucket(MemSlots())
    state.update_fin([(bytes([i]), b"v") for i in range(50)])
    state.set_nonce(BUCKET, 9)
    assert layout(state)[0] == BucketMeta(9, 256)
    check_invariant(state)
