"""Strongly history-independent bucket table and `StateUpdates` (spec/salt.md §2.3).

`ShiState` runs the SHI algorithms (find, upsert with displacement, backward-shift delete, rehash,
load-factor resize, canonicalize) over any `SlotReader`: the committed LMDB state or a witness view
that raises on slots it does not cover. All writes go to an in-memory cache and are recorded as
`StateUpdates` (SaltKey → (old, new)) with upstream's chaining rules (salt/src/state/updates.rs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from salt.constants import (
    BUCKET_RESIZE_LOAD_FACTOR_PCT,
    BUCKET_RESIZE_MULTIPLIER,
    BUCKET_SLOT_BITS,
    BUCKET_SLOT_ID_MASK,
    NUM_KV_BUCKETS,
    NUM_META_BUCKETS,
)
from salt.hasher import bucket_id as default_bucket_of
from salt.hasher import hash_with_nonce
from salt.pedersen import Backend, backend
from salt.types import DEFAULT_META, BucketMeta, SaltValue, metadata_key

Change = tuple[SaltValue | None, SaltValue | None]
_MISS = object()


class SlotReader(Protocol):
    """Committed slots a `ShiState` reads through (§2.3, §7)."""

    def slot_value(self, key: int) -> SaltValue | None:
        """Content of a slot (None = empty); raise when the slot is unknown (witness)."""
        ...

    def bucket_meta(self, bucket: int) -> BucketMeta:
        """Metadata of a data bucket (default when not stored)."""
        ...

    def bucket_used(self, bucket: int) -> int | None:
        """Number of occupied slots, or None when unknown (stateless mode: no load-factor resize)."""
        ...

    def plain_lookup(self, plain_key: bytes) -> int | None:
        """Direct-lookup hint: a SaltKey that may hold `plain_key`, or None."""
        ...


class StateUpdates:
    """SaltKey → (old, new) with transition chaining; no-op entries are dropped (updates.rs)."""

    __slots__ = ("data",)

    def __init__(self, data: dict[int, Change] | None = None) -> None:
        self.data: dict[int, Change] = {} if data is None else data

    def add(self, key: int, old: SaltValue | None, new: SaltValue | None) -> None:
        """Record `old → new` for `key`, chaining onto an existing entry (whose new must equal `old`)."""
        data = self.data
        prev = data.get(key)
        if prev is None:
            if old != new:
                data[key] = (old, new)
            return
        if prev[1] != old:
            raise ValueError(f"invalid state transition at SaltKey {key}: expected {prev[1]}, got {old}")
        if prev[0] == new:
            del data[key]
        else:
            data[key] = (prev[0], new)

    def merge(self, other: StateUpdates) -> None:
        """Apply `add` for every entry of `other`, in key order."""
        if not self.data:  # nothing to chain onto: keep the real transitions
            self.data.update(sorted((k, ch) for k, ch in other.data.items() if ch[0] != ch[1]))
            return
        for key in sorted(other.data):
            old, new = other.data[key]
            self.add(key, old, new)

    def inverse(self) -> StateUpdates:
        """The rollback updates (old and new swapped)."""
        return StateUpdates({k: (n, o) for k, (o, n) in self.data.items()})

    def sorted_items(self) -> list[tuple[int, Change]]:
        """Entries in ascending SaltKey order."""
        return sorted(self.data.items())

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[int]:
        return iter(self.data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StateUpdates) and self.data == other.data


def compute_resize_capacity(capacity: int, used: int) -> int:
    """Smallest `capacity · 2^k` with `used · 100 ≤ cap · 80` (§2.3)."""
    while used * 100 > capacity * BUCKET_RESIZE_LOAD_FACTOR_PCT:
        capacity *= BUCKET_RESIZE_MULTIPLIER
    return capacity


class ShiState:
    """Ephemeral SALT state: SHI operations over a `SlotReader`, writes kept in `cache` (§2.3)."""

    def __init__(
        self, store: SlotReader, bucket_of: Callable[[bytes], int] = default_bucket_of, be: Backend | None = None
    ) -> None:
        self.store = store
        self.bucket_of = bucket_of
        self.be = be or backend()
        self._buckets: dict[bytes, int] = {}  # plain key → bucket id, hashed in bulk by `prepare`
        self._probe0: dict[bytes, int] = {}  # plain key → hash_with_nonce(key, 0), likewise
        self.cache: dict[int, SaltValue | None] = {}
        self.usage_delta: dict[int, int] = {}
        self.rehashed: set[int] = set()
        self._store_meta: dict[int, BucketMeta] = {}  # memo of committed metadata reads
        self._lookup = not getattr(store, "NO_PLAIN_LOOKUP", False)  # store may give direct-lookup hints

    def prepare(self, plain_keys: Sequence[bytes], probes: bool = True) -> list[int]:
        """Hash a batch's keys in bulk (bucket ids and, with `probes`, nonce-0 probe hashes: one
        backend call each, §2.2); return their buckets."""
        be = self.be
        if self.bucket_of is default_bucket_of:
            buckets = [h % NUM_KV_BUCKETS + NUM_META_BUCKETS for h in be.ahash_many(plain_keys)]
            self._buckets.update(zip(plain_keys, buckets))
        else:
            buckets = [self.bucket(k) for k in plain_keys]
        if probes:
            self.prepare_probes(plain_keys)
        return buckets

    def prepare_probes(self, plain_keys: Sequence[bytes]) -> None:
        """Nonce-0 probe hashes of `plain_keys` in one backend call (§2.2)."""
        self._probe0.update(zip(plain_keys, self.be.ahash_many(plain_keys, 0)))

    def bucket(self, plain_key: bytes) -> int:
        """Data bucket of a plain key."""
        b = self._buckets.get(plain_key)
        return self.bucket_of(plain_key) if b is None else b

    def probe(self, plain_key: bytes, nonce: int) -> int:
        """`hash_with_nonce(plain_key, nonce)`, from the bulk cache when prepared (§2.2)."""
        h = self._probe0.get(plain_key) if nonce == 0 else None
        return hash_with_nonce(plain_key, nonce) if h is None else h

    # ---- reads ----

    def value(self, key: int) -> SaltValue | None:
        """Slot content: the cache first, then the store."""
        v = self.cache.get(key, _MISS)
        return self.store.slot_value(key) if v is _MISS else v  # type: ignore[return-value]

    def meta(self, bucket: int) -> BucketMeta:
        """Current metadata of a data bucket (nonce, capacity)."""
        v = self.cache.get((bucket >> 8) << BUCKET_SLOT_BITS | (bucket & 0xFF), _MISS)
        if v is _MISS:
            m = self._store_meta.get(bucket)
            if m is None:
                m = self._store_meta[bucket] = self.store.bucket_meta(bucket)
            return m
        return DEFAULT_META if v is None else BucketMeta.from_value(v)  # type: ignore[arg-type]

    def used(self, bucket: int) -> int | None:
        """Occupied slots (store count + this batch's delta), or None when unknown."""
        base = self.store.bucket_used(bucket)
        return None if base is None else base + self.usage_delta.get(bucket, 0)

    def find(self, plain_key: bytes) -> tuple[int, SaltValue] | None:
        """(SaltKey, SaltValue) holding `plain_key`, or None (`shi_search`)."""
        hit = self._direct_find(plain_key)
        if hit is not None:
            return hit
        bucket = self.bucket(plain_key)
        nonce, cap = self.meta(bucket)
        found = self._search(bucket, nonce, cap, plain_key)
        return None if found is None else (bucket << BUCKET_SLOT_BITS | found[0], found[1])

    def plain_value(self, plain_key: bytes) -> bytes | None:
        """The plain value stored for `plain_key`, or None."""
        hit = self.find(plain_key)
        return None if hit is None else hit[1].value

    def _direct_find(self, plain_key: bytes) -> tuple[int, SaltValue] | None:
        key = self.store.plain_lookup(plain_key)
        if key is None:
            return None
        v = self.value(key)
        return (key, v) if v is not None and v[0] == plain_key else None

    def _search(self, bucket: int, nonce: int, cap: int, plain_key: bytes) -> tuple[int, SaltValue] | None:
        h = self.probe(plain_key, nonce) % cap
        base = bucket << BUCKET_SLOT_BITS
        value = self.value
        for step in range(cap):
            slot = (h + step) % cap
            v = value(base | slot)
            if v is None:
                return None
            k = v[0]
            if k == plain_key:
                return slot, v
            if k < plain_key:
                return None
        return None

    # ---- batch updates ----

    def update(self, items: Iterable[tuple[bytes, bytes | None]]) -> StateUpdates:
        """Apply plain-key upserts (value) and deletes (None) in the given order."""
        items = list(items)
        buckets = self.prepare([k for k, _ in items])
        return self.update_prepared([(b, k, v) for b, (k, v) in zip(buckets, items, strict=True)])

    def update_prepared(self, ops: Iterable[tuple[int, bytes, bytes | None]]) -> StateUpdates:
        """`update` of (bucket, plain key, value or None) whose keys went through `prepare`."""
        updates = StateUpdates()
        upsert, delete = self.upsert, self.delete
        for bucket, plain_key, plain_value in ops:
            if plain_value is None:
                delete(bucket, plain_key, updates)
            else:
                upsert(bucket, plain_key, plain_value, updates)
        return updates

    def update_fin(self, items: Iterable[tuple[bytes, bytes | None]]) -> StateUpdates:
        """`update` followed by `canonicalize` (the mandatory end of a batch)."""
        updates = self.update(items)
        updates.merge(self.canonicalize())
        return updates

    def canonicalize(self) -> StateUpdates:
        """Re-insert every rehashed bucket from its pre-batch metadata, so resizing depends on final contents."""
        updates = StateUpdates()
        buckets, self.rehashed = self.rehashed, set()
        for bucket in sorted(buckets):
            old_meta = self.meta(bucket)
            base = bucket << BUCKET_SLOT_BITS
            entries = []
            for slot, v in sorted(self._bucket_entries(bucket, old_meta.capacity).items()):
                entries.append(v)
                self.cache[base | slot] = None
                updates.add(base | slot, v, None)
            mkey = metadata_key(bucket)
            self.cache.pop(mkey, None)
            new_meta = self.meta(bucket)
            updates.add(mkey, old_meta.to_value(), new_meta.to_value())
            self.usage_delta[bucket] = self.usage_delta.get(bucket, 0) - len(entries)
            for v in entries:
                self.upsert(bucket, v[0], v[1], updates)
        self.rehashed.clear()
        return updates

    def _write(self, updates: StateUpdates, key: int, old: SaltValue | None, new: SaltValue | None) -> None:
        if old != new:
            d = (new is not None) - (old is not None)
            if d:
                b = key >> BUCKET_SLOT_BITS
                self.usage_delta[b] = self.usage_delta.get(b, 0) + d
            updates.add(key, old, new)
            self.cache[key] = new

    def upsert_present(self, plain_key: bytes, plain_value: bytes, updates: StateUpdates) -> bool:
        """`upsert` of a key that `find` finds (a direct-lookup hit is written at once, as `upsert` does);
        False, with nothing done, when the key is absent."""
        hit = self._direct_find(plain_key) if self._lookup else None
        if hit is not None:
            self._write(updates, hit[0], hit[1], SaltValue(plain_key, plain_value))
            return True
        if self.find(plain_key) is None:
            return False
        self.upsert(self.bucket(plain_key), plain_key, plain_value, updates)
        return True

    def upsert(self, bucket: int, plain_key: bytes, plain_value: bytes, updates: StateUpdates) -> None:
        """Insert or update `plain_key` (`shi_upsert`): displacement chain, then load-factor resize."""
        cur = SaltValue(plain_key, plain_value)
        if self._lookup:
            hit = self._direct_find(plain_key)
            if hit is not None:
                self._write(updates, hit[0], hit[1], cur)
                return
        nonce, cap = self.meta(bucket)
        h = self._probe0.get(plain_key) if nonce == 0 else None
        h = (hash_with_nonce(plain_key, nonce) if h is None else h) % cap
        base = bucket << BUCKET_SLOT_BITS
        cache = self.cache
        cache_get = cache.get
        slot_value = self.store.slot_value
        add = updates.add
        cur_key = plain_key
        for step in range(cap):
            key = base | (h + step) % cap
            old = cache_get(key, _MISS)
            if old is _MISS:
                old = slot_value(key)
            if old is None:  # _write(updates, key, None, cur), inlined
                usage = self.usage_delta
                d = usage[bucket] = usage.get(bucket, 0) + 1
                add(key, None, cur)
                cache[key] = cur
                used = self.store.bucket_used(bucket)
                if used is not None and used + d > cap * BUCKET_RESIZE_LOAD_FACTOR_PCT // 100:
                    self.rehash(bucket, nonce, compute_resize_capacity(cap, used + d), updates)
                return
            old_key = old[0]
            if old_key == cur_key:  # _write(updates, key, old, cur): both present, usage unchanged
                if old != cur:
                    add(key, old, cur)
                    cache[key] = cur
                return
            if old_key < cur_key:  # likewise (different keys)
                add(key, old, cur)
                cache[key] = cur
                cur, cur_key = old, old_key
        # No empty slot within `cap` probes: forced expansion, then retry the displaced entry.
        self.rehash(bucket, nonce, compute_resize_capacity(cap, cap), updates)
        self.upsert(bucket, cur[0], cur[1], updates)

    def delete(self, bucket: int, plain_key: bytes, updates: StateUpdates) -> None:
        """Remove `plain_key` if present (`shi_delete`): backward shift along the probe run."""
        nonce, cap = self.meta(bucket)
        found = self._search(bucket, nonce, cap, plain_key)
        if found is None:
            return
        base = bucket << BUCKET_SLOT_BITS
        del_slot, del_value = found
        while True:
            nxt = self._next_movable(base, del_slot, nonce, cap)
            if nxt is None:
                self._write(updates, base | del_slot, del_value, None)
                return
            self._write(updates, base | del_slot, del_value, nxt[1])
            del_slot, del_value = nxt

    def _next_movable(self, base: int, del_slot: int, nonce: int, cap: int) -> tuple[int, SaltValue] | None:
        for i in range(1, cap):
            slot = (del_slot + i) % cap
            v = self.value(base | slot)
            if v is None:
                return None
            ideal = self.probe(v[0], nonce) % cap
            if (slot - ideal) % cap > (del_slot - ideal) % cap:
                return slot, v
        return None

    def _bucket_entries(self, bucket: int, capacity: int) -> dict[int, SaltValue]:
        """Occupied slots 0..capacity-1 of a bucket (slot → value), cache over store."""
        base = bucket << BUCKET_SLOT_BITS
        value = self.value
        out = {}
        for slot in range(capacity):
            v = value(base | slot)
            if v is not None:
                out[slot] = v
        return out

    def rehash(self, bucket: int, new_nonce: int, new_cap: int, updates: StateUpdates) -> None:
        """Re-place all entries under (new_nonce, new_cap) in descending key order (`shi_rehash`)."""
        if new_cap > BUCKET_SLOT_ID_MASK:
            raise ValueError(f"bucket capacity {new_cap} exceeds {BUCKET_SLOT_ID_MASK}")
        old_meta = self.meta(bucket)
        old_cap = old_meta.capacity
        old_slots = self._bucket_entries(bucket, old_cap)
        if new_cap < len(old_slots):
            return
        new_slots: dict[int, SaltValue] = {}
        for v in sorted(old_slots.values(), reverse=True):
            h = self.probe(v[0], new_nonce) % new_cap
            for step in range(new_cap):
                slot = (h + step) % new_cap
                if slot not in new_slots:
                    new_slots[slot] = v
                    break
        base = bucket << BUCKET_SLOT_BITS
        for slot in range(max(old_cap, new_cap)):
            old = old_slots.get(slot) if slot < old_cap else None
            new = new_slots.get(slot) if slot < new_cap else None
            if old != new or slot >= old_cap:
                self.cache[base | slot] = new
            if old != new:
                updates.add(base | slot, old, new)
        self._write(updates, metadata_key(bucket), old_meta.to_value(), BucketMeta(new_nonce, new_cap).to_value())
        self.rehashed.add(bucket)

    def set_nonce(self, bucket: int, nonce: int) -> StateUpdates:
        """Rehash a bucket under a new nonce (same capacity)."""
        updates = StateUpdates()
        self.rehash(bucket, nonce, self.meta(bucket).capacity, updates)
        return updates
