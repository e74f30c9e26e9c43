"""SALT state stores: committed state in LMDB with a per-block overlay, and a witness-backed view.

Spec: spec/salt.md §2 (slots, metadata), §5 (root update), §6.1/§6.5/§7 (witness production,
proving, stateless mode);
spec/stateless-validator.md §7 (order in which a block's plain-key diff is applied).

LMDB layout: named DBs `salt_kv` (SaltKey u64 BE → 94-byte SaltValue) and `salt_nodes` (node id
u64 BE → 64-byte commitment). Absent slots are empty, absent metadata is the default BucketMeta,
absent nodes hold their default commitment (§4.4).
"""

from __future__ import annotations

import gc
import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, cached_property, partial
from operator import itemgetter
from pathlib import Path
from struct import Struct
from typing import Any

import lmdb

from salt.constants import (
    BUCKET_SLOT_BITS,
    MIN_BUCKET_SIZE,
    NUM_META_BUCKETS,
    STARTING_NODE_ID,
)
from salt.multiproof import ProofSource, create_proof, decode_points, leaf_start_key
from salt.pedersen import Backend, PackedChanges, backend
from salt.shi import Change, ShiState, StateUpdates
from salt.trie import (
    MAIN_DEFAULTS,
    SUBTREE_DEFAULTS,
    BelowRoot,
    TrieResult,
    default_commitment,
    finish_root,
    plan_below_root,
    root_hash,
    update_trie,
)
from salt.types import (
    DEFAULT_META,
    DEFAULT_META_VALUE,
    EMPTY_SLOT_SCALAR,
    SALT_VALUE_LEN,
    BucketMeta,
    SaltValue,
    bucket_of_metadata_key,
    child_node,
    is_meta_key,
    kv_hash,
    metadata_key,
    node_level,
    subtree_root_level,
)
from salt.witness import SaltWitness

_U64BE = Struct(">Q")
PlainUpdates = Mapping[bytes, bytes | None]


class WitnessMissingKey(KeyError):
    """A slot, metadata entry or commitment the witness does not cover (never read as empty)."""


_CACHED_NODES = STARTING_NODE_ID[3]  # main-trie levels 0–2 (ids below the first bucket node)
_BUCKET0 = STARTING_NODE_ID[3]  # level-3 node of bucket 0
_DATA_LEAF0 = _BUCKET0 + NUM_META_BUCKETS  # level-3 node of the first data bucket
_SEGMENT0 = STARTING_NODE_ID[4]
_DATA_LEAF_DEFAULT = default_commitment(_DATA_LEAF0)
_NODE_DELTA_MAX = 4096  # changed nodes kept over a node cache's base before folding them in
_OCCUPIED_MAX = 1 << 22  # stored nodes above which a node cache keeps no bucket occupancy bitmap


_UNSCANNED = object()  # `_NodeCache` occupancy not read yet


class _NodeCache:
    """Committed commitments of main-trie levels 0–2 of one state, shared by the overlays reading it:
    `delta` over `base` holds every stored one (ids in neither hold their default commitment, §4.4).
    Both dicts are never changed once the cache is in use; a successor state gets a new `delta`
    (the changes since `base`), folded into a new `base` once it grows large.

    Identified by the state's root commitment: by the binding of the commitments, two states with
    the same root have the same nodes, so the root alone tells whether the cache is current."""

    __slots__ = ("root", "base", "delta", "be", "_flat", "_occupied")

    def __init__(
        self,
        root: bytes,
        base: dict[int, bytes],
        delta: dict[int, bytes],
        be: Backend,
        flat: bytes | None = None,
        occupied: bytes | None | object = _UNSCANNED,
    ) -> None:
        """`flat` and `occupied` (see their methods) when known from a predecessor; else each is built on
        first use (a reader that only makes witnesses, as the sealer's, never pays for them)."""
        self.root = root
        self.base = base
        self.delta = delta
        self.be = be
        self._flat = flat
        self._occupied = occupied

    def flat(self) -> bytes:
        """Every level 0–2 commitment by node id, 64 bytes each (`trie.BelowRoot`'s `nodes012`)."""
        if self._flat is None:
            self._flat = _patched(_default_flat(), {**self.base, **self.delta})
        return self._flat

    def occupied(self, txn: lmdb.Transaction, nodes_db: object) -> bytes | None:
        """Bit b (of byte b >> 3) set iff data bucket b's level-3 commitment is stored, i.e. not the empty
        bucket's; None when not kept. `txn` reads this cache's state (scanned on first use)."""
        if self._occupied is _UNSCANNED:
            self._occupied = _scan_occupied(txn, nodes_db, self.be)
        return self._occupied  # type: ignore[return-value]


def _scan_occupied(txn: lmdb.Transaction, nodes_db: object, be: Backend) -> bytes | None:
    """`_NodeCache.occupied` from one key scan of the stored nodes from the first data bucket's level-3
    node on; None when the nodes table holds over `_OCCUPIED_MAX` entries (most buckets would be
    occupied anyway)."""
    if txn.stat(nodes_db)["entries"] > _OCCUPIED_MAX:
        return None
    cur = txn.cursor(db=nodes_db)
    ids = b""
    if cur.set_range(_U64BE.pack(_DATA_LEAF0)):
        ids = b"".join(cur.iternext(keys=True, values=False))
    return be.id_bitmap(ids, _BUCKET0, 1 << 24)


def _patched(buf: bytes, nodes: Mapping[int, bytes]) -> bytes:
    """`buf` (64 bytes per node id) with `nodes` written in."""
    out = bytearray(buf)
    for n, c in nodes.items():
        out[64 * n : 64 * n + 64] = c
    return bytes(out)


def _mark(occupied: bytes | None, buckets: Mapping[int, bool]) -> bytes | None:
    """`occupied` with each bucket's bit set or cleared as `buckets` says."""
    if occupied is None or not buckets:
        return occupied
    out = bytearray(occupied)
    for b, used in buckets.items():
        if used:
            out[b >> 3] |= 1 << (b & 7)
        else:
            out[b >> 3] &= ~(1 << (b & 7)) & 0xFF
    return bytes(out)


@cache
def _default_flat() -> bytes:
    """Default commitments (§4.4) of main-trie nodes 0 .. _CACHED_NODES - 1, 64 bytes each."""
    return b"".join(default_commitment(n) * (end - n) for n, end in _default_runs())


def _default_runs() -> list[tuple[int, int]]:
    """Runs [n, end) of level 0–2 node ids sharing one default commitment."""
    cuts = sorted({0, _CACHED_NODES, *STARTING_NODE_ID[:3], *(t for t, _, _ in MAIN_DEFAULTS[:3])})
    return list(zip(cuts, cuts[1:]))


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_was_enabled = False


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is applied (nesting and threads allowed).

    A batch allocates about ten acyclic objects per key (tuples, SaltValues, dict entries), which
    reference counting frees; with the collector on, these allocations trigger full collections
    whose cost grows with the whole heap (≈10% of a 100k-key batch in the benchmark process)."""
    global _gc_depth, _gc_was_enabled
    with _gc_lock:
        if _gc_depth == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_was_enabled:
                gc.enable()


def _wait_all(parts: Iterable[BelowRoot], quiet: bool = False) -> None:
    """Wait for every part's background work (no C thread may outlive the buffers it reads); then
    raise the first failure unless `quiet`."""
    first: Exception | None = None
    for part in parts:
        try:
            part.wait()
        except Exception as e:
            first = first or e
    if first is not None and not quiet:
        raise first


def _sorted_items(items: PlainUpdates | Iterable[tuple[bytes, bytes | None]]) -> list[tuple[bytes, bytes | None]]:
    pairs = items.items() if isinstance(items, Mapping) else items
    return sorted(pairs, key=itemgetter(0))


class SaltStore:
    """Committed SALT state in an LMDB environment (one writer; read views via `overlay()`)."""

    def __init__(self, env: lmdb.Environment) -> None:
        """Use the SALT tables of `env` (shared with other tables of the node, so one write txn can hold all)."""
        self.env = env
        self.kv_db = env.open_db(b"salt_kv")
        self.nodes_db = env.open_db(b"salt_nodes")
        self._node_cache: _NodeCache | None = None
        # (root before, root after, changed level 0–2 nodes, data buckets whose level-3 node was
        # stored (True) or deleted (False)) of the last overlay written
        self._pending: tuple[bytes, bytes, dict[int, bytes], dict[int, bool]] | None = None

    def _node_cache_for(self, root: bytes, txn: lmdb.Transaction, be: Backend) -> _NodeCache:
        """The level 0–2 node cache of the state with this root commitment: the current one, the
        current one updated by the last written overlay when that overlay led from it to `root`,
        else one read in a single scan of `txn` (a read of that state), which replaces the current one."""
        c = self._node_cache
        if c is not None and c.root == root:
            return c
        p = self._pending
        if c is not None and p is not None and p[0] == c.root and p[1] == root:
            delta = {**c.delta, **p[2]}
            flat = None if c._flat is None else _patched(c._flat, p[2])
            occupied = c._occupied
            if occupied is not _UNSCANNED:
                occupied = _mark(occupied, p[3])  # type: ignore[arg-type]
            if len(delta) > _NODE_DELTA_MAX + len(c.base) // 4:
                c = _NodeCache(root, {**c.base, **delta}, {}, be, flat, occupied)
            else:
                c = _NodeCache(root, c.base, delta, be, flat, occupied)
        else:
            nodes = {}
            cur = txn.cursor(db=self.nodes_db)
            if cur.first():
                unpack = _U64BE.unpack
                for k, v in cur:
                    n = unpack(k)[0]
                    if n >= _CACHED_NODES:
                        break
                    nodes[n] = v
            c = _NodeCache(root, nodes, {}, be)
        self._node_cache = c
        return c

    @classmethod
    def open(cls, path: str | Path, map_size: int = 1 << 36) -> SaltStore:
        """A store in its own LMDB environment at `path`."""
        Path(path).mkdir(parents=True, exist_ok=True)
        return cls(lmdb.open(str(path), map_size=map_size, max_dbs=4, writemap=True, map_async=True))

    def close(self) -> None:
        self.env.close()

    def root(self) -> bytes:
        """Committed state root (LE32 of map_to_scalar(C_0))."""
        with self.env.begin() as txn:
            c = txn.get(_U64BE.pack(0), db=self.nodes_db)
        return root_hash(bytes(c) if c is not None else default_commitment(0))

    def overlay(self, be: Backend | None = None) -> StateOverlay:
        """A block overlay reading this store's committed state."""
        return StateOverlay(self, be)

    def witness(self, plain_keys: Iterable[bytes]) -> SaltWitness:
        """SALT witness of the committed state for `plain_keys` (see `StateOverlay.witness`)."""
        ov = self.overlay()
        try:
            return ov.witness(plain_keys)
        finally:
            ov.discard()

    def bulk_load(self, entries: Iterable[tuple[int, SaltValue]], nodes: Mapping[int, bytes]) -> None:
        """Write slots (ascending SaltKeys) and commitments directly, e.g. from `trie.rebuild_root`."""
        with self.env.begin(write=True) as txn:
            with txn.cursor(db=self.kv_db) as cur:
                cur.putmulti(((_U64BE.pack(k), v.to_bytes()) for k, v in entries), append=True)
            with txn.cursor(db=self.nodes_db) as cur:
                cur.putmulti(((_U64BE.pack(n), nodes[n]) for n in sorted(nodes)), append=True)


_GROUP_KEYS = 256  # keys per pipelined group of `StateOverlay.apply`
_MAX_GROUPS = 16
_META_KEYS_END = NUM_META_BUCKETS << BUCKET_SLOT_BITS  # SaltKeys below are metadata slots
_META_PRELOAD = 4096
_NO_BUCKET = -1


def _group_starts(n_groups: int) -> list[int]:
    """First level-1 node index (bucket >> 16) of groups 1 .. n_groups − 1 of a batch: the first group
    gets half the share of the others, so the C thread starts on it sooner (it then lags the Python
    thread less at the end)."""
    units = 2 * n_groups - 1
    return [-(-(2 * g - 1) * 256 // units) for g in range(1, n_groups)]


_new_value = partial(tuple.__new__, SaltValue)  # SaltValue((key, value)) without NamedTuple.__new__


def _value_of(raw: bytes) -> SaltValue:
    """SaltValue of a stored 94-byte slot (§2.1)."""
    kl, vl = raw[0], raw[1]
    return _new_value((raw[2 : 2 + kl], raw[2 + kl : 2 + kl + vl]))


def _meta_of(raw: bytes) -> BucketMeta:
    """BucketMeta of a stored 94-byte metadata SaltValue (key = nonce u32 LE ‖ capacity u64 LE)."""
    return BucketMeta(int.from_bytes(raw[2:6], "little"), int.from_bytes(raw[6:14], "little"))


class _OverlayReader:
    """SlotReader + NodeReader over one LMDB read transaction, with trie overlay nodes."""

    NO_PLAIN_LOOKUP = True  # `plain_lookup` never answers: `ShiState` skips calling it

    def __init__(self, txn: lmdb.Transaction, kv_db: object, nodes_db: object) -> None:
        self.txn, self.nodes_db = txn, nodes_db
        self.kv_get = txn.cursor(db=kv_db).get
        self.node_get = txn.cursor(db=nodes_db).get
        self.kv_cursor = txn.cursor(db=kv_db)
        self.nodes: dict[int, bytes] = {}
        self.node_cache: _NodeCache | None = None  # all stored nodes of levels 0–2
        self._metas: dict[int, BucketMeta] | None = None  # all stored metadata, when there is little
        self._slots: dict[int, dict[int, SaltValue]] = {}  # data bucket → its stored slots, once read
        self._raw: dict[int, list[tuple[int, bytes]]] = {}  # data bucket → stored (SaltKey, raw), once read

    def slot_value(self, key: int) -> SaltValue | None:
        bucket = key >> BUCKET_SLOT_BITS
        if bucket < NUM_META_BUCKETS:
            raw = self.kv_get(_U64BE.pack(key))
            return DEFAULT_META_VALUE if raw is None else _value_of(raw)
        slots = self._slots.get(bucket)
        if slots is None:
            slots = self._scan_bucket(bucket)
        return slots.get(key)

    def _scan_bucket(self, bucket: int) -> dict[int, SaltValue]:
        """A data bucket's stored slots (from `bucket_raw`): its later slot reads, `bucket_used` and
        (when empty) its level-3 commitment then need no LMDB access. Most buckets hold 0–2 keys."""
        slots = {k: _value_of(v) for k, v in self.bucket_raw(bucket)}
        self._slots[bucket] = slots
        return slots

    def bucket_raw(self, bucket: int) -> list[tuple[int, bytes]]:
        """A data bucket's stored (SaltKey, 94-byte value) pairs, ascending, in one range scan (once)."""
        out = self._raw.get(bucket)
        if out is not None:
            return out
        out = []
        start = bucket << BUCKET_SLOT_BITS
        cur = self.kv_cursor
        if cur.set_range(_U64BE.pack(start)):
            end = _U64BE.pack(start + (1 << BUCKET_SLOT_BITS))
            k = cur.key()
            while k < end:
                out.append((_U64BE.unpack(k)[0], cur.value()))
                if not cur.next():
                    break
                k = cur.key()
        self._raw[bucket] = out
        return out

    def flat_buckets(self, buckets: list[int]) -> tuple[array, bytes, list[bytes], list[bytes]] | None:
        """Stored slots and level-3 commitments of data buckets (ascending) for the C SHI path, in one
        pass of range scans (not cached): (entry offsets per bucket, slot numbers, 94-byte values,
        commitments); None when a bucket holds a slot beyond 255 or a value of another size."""
        cur = self.kv_cursor
        set_range, key, value, step = cur.set_range, cur.key, cur.value, cur.next
        node_get, pack = self.node_get, _U64BE.pack
        entry_off = array("I", [0])
        slots = bytearray()
        entries: list[bytes] = []
        leaf_olds: list[bytes] = []
        cache = self.node_cache
        occupied = None if cache is None or self.nodes else cache.occupied(self.txn, self.nodes_db)
        for b in buckets:
            n = len(entries)
            if occupied is not None and not occupied[b >> 3] >> (b & 7) & 1:
                # no stored level-3 node: the empty bucket's commitment, so no slots (by its binding)
                leaf_olds.append(_DATA_LEAF_DEFAULT)
                entry_off.append(n)
                continue
            lo = b << BUCKET_SLOT_BITS
            if set_range(pack(lo)):
                end, flat_end = pack(lo + (1 << BUCKET_SLOT_BITS)), pack(lo + MIN_BUCKET_SIZE)
                k = key()
                while k < end:
                    v = value()
                    if k >= flat_end or len(v) != SALT_VALUE_LEN:
                        return None
                    slots.append(k[7])
                    entries.append(v)
                    if not step():
                        break
                    k = key()
            if len(entries) == n:  # flat and empty: the default level-3 commitment (§4.4)
                leaf_olds.append(_DATA_LEAF_DEFAULT)
            else:
                raw = node_get(pack(_BUCKET0 + b))
                leaf_olds.append(_DATA_LEAF_DEFAULT if raw is None else raw)
            entry_off.append(len(entries))
        return entry_off, bytes(slots), entries, leaf_olds

    def preloaded_metas(self) -> dict[int, BucketMeta] | None:
        """Every stored metadata entry (bucket → meta) when few enough were preloaded, else None."""
        metas = self._metas
        if metas is None:
            metas = self._metas = self._load_metas()
        return metas or None

    def bucket_meta(self, bucket: int) -> BucketMeta:
        metas = self._metas
        if metas is None:
            metas = self._metas = self._load_metas()
        if metas:
            return metas.get(bucket, DEFAULT_META)
        raw = self.kv_get(_U64BE.pack((bucket >> 8) << BUCKET_SLOT_BITS | (bucket & 0xFF)))  # metadata_key
        return DEFAULT_META if raw is None else _meta_of(raw)

    def _load_metas(self) -> dict[int, BucketMeta]:
        """Every stored (non-default) metadata entry in one scan, or {} when there are more than
        `_META_PRELOAD` (then each bucket's metadata is read on its own). Most buckets never store any (§2.1)."""
        metas: dict[int, BucketMeta] = {_NO_BUCKET: DEFAULT_META}  # non-empty marks "preloaded"
        cur = self.kv_cursor
        if cur.first():
            for k, raw in cur:
                key = _U64BE.unpack(k)[0]
                if key >> BUCKET_SLOT_BITS >= NUM_META_BUCKETS:
                    break
                if len(metas) > _META_PRELOAD:
                    return {}
                metas[bucket_of_metadata_key(key)] = _meta_of(raw)
        return metas

    def bucket_used(self, bucket: int) -> int:
        slots = self._slots.get(bucket)
        return len(self._scan_bucket(bucket) if slots is None else slots)

    def plain_lookup(self, plain_key: bytes) -> int | None:
        return None

    def nodes012(self) -> bytes | None:
        """Committed levels 0–2 by node id (`_NodeCache.flat`) while this reader's trie holds no
        changes of its own (else None)."""
        cache = self.node_cache
        return None if self.nodes or cache is None else cache.flat()

    def node_many(self, ids: list[int]) -> list[bytes]:
        """`node` of each id (one pass over the level 0–2 cache when all are there)."""
        cache = self.node_cache
        if self.nodes or cache is None or not ids or max(ids) >= _CACHED_NODES:
            return [self.node(i) for i in ids]
        delta, base = cache.delta, cache.base
        out = [delta.get(i) or base.get(i) for i in ids] if delta else [base.get(i) for i in ids]
        if None in out:
            return [default_commitment(i) if c is None else c for i, c in zip(ids, out)]
        return out  # type: ignore[return-value]

    def node(self, node_id: int) -> bytes:
        c = self.nodes.get(node_id)
        if c is not None:
            return c
        cache = self.node_cache
        if cache is not None and node_id < _CACHED_NODES:
            c = cache.delta.get(node_id)
            if c is None:
                c = cache.base.get(node_id)
            return default_commitment(node_id) if c is None else c
        if _DATA_LEAF0 <= node_id < _SEGMENT0:  # an empty flat data bucket has the default (§4.4)
            bucket = node_id - _BUCKET0
            slots = self._raw.get(bucket)
            if slots is not None and not slots and self.bucket_meta(bucket).capacity == MIN_BUCKET_SIZE:
                return _DATA_LEAF_DEFAULT
        raw = self.node_get(_U64BE.pack(node_id))
        return default_commitment(node_id) if raw is None else raw


_META_SCALAR = kv_hash(DEFAULT_META_VALUE)


class _CommittedSource:
    """`multiproof.ProofSource` over one LMDB read transaction of committed state (§6.5): node
    vectors come from range scans (only stored slots / commitments are read, the rest are defaults)."""

    def __init__(self, txn: lmdb.Transaction, kv_db: object, nodes_db: object, be: Backend) -> None:
        self.kv = txn.cursor(db=kv_db)
        self.nodes = txn.cursor(db=nodes_db)
        self.be = be
        self._default_scalars: dict[bytes, int] = {}

    def commitment(self, node: int) -> bytes:
        raw = self.nodes.get(_U64BE.pack(node))
        return default_commitment(node) if raw is None else raw

    def node_scalars(self, node: int) -> list[int]:
        if node_level(node) == 4 or (node >> BUCKET_SLOT_BITS == 0 and node_level(node) == 3):
            start = leaf_start_key(node)
            empty = _META_SCALAR if start >> BUCKET_SLOT_BITS < NUM_META_BUCKETS else EMPTY_SLOT_SCALAR
            out = [empty] * 256
            for i, raw in _scan(self.kv, start):
                out[i] = kv_hash(SaltValue(raw[2 : 2 + raw[0]], raw[2 + raw[0] : 2 + raw[0] + raw[1]]))
            return out
        first = child_node(node, 0)
        present = _scan(self.nodes, first)
        out = self._defaults(first)
        scalars = self.be.map_to_scalars([c for _, c in present])
        for (i, _), sc in zip(present, scalars, strict=True):
            out[i] = sc
        return out

    def _defaults(self, first: int) -> list[int]:
        """map_to_scalar of the default commitments of children first..first+255 (§4.4)."""
        level = node_level(first)
        if first >> BUCKET_SLOT_BITS:
            return [self._scalar(SUBTREE_DEFAULTS[level])] * 256
        threshold, low, high = MAIN_DEFAULTS[level]
        n_low = min(256, max(0, threshold - first))
        return [self._scalar(low)] * n_low + [self._scalar(high)] * (256 - n_low)

    def _scalar(self, c: bytes) -> int:
        sc = self._default_scalars.get(c)
        if sc is None:
            sc = self._default_scalars[c] = self.be.map_to_scalars([c])[0]
        return sc


def _scan(cur: lmdb.Cursor, start: int) -> list[tuple[int, bytes]]:
    """Stored (offset, value) for keys start..start+255 of a u64-BE-keyed table."""
    out = []
    if cur.set_range(_U64BE.pack(start)):
        for k, v in cur:
            i = _U64BE.unpack(k)[0] - start
            if i >= 256:
                break
            out.append((i, v))
    return out


class _FlatResult:
    """One group's slot changes from the C SHI path (`StateOverlay._flat_group`) as C returned them:
    changed SaltKeys `keys` (ascending), their old and new content as -1 (empty), an op index into
    `ops` or len(ops) + an index into the stored `entries`; occupancy change per bucket."""

    __slots__ = ("ops", "entries", "keys", "olds", "news", "buckets", "deltas")

    def __init__(self, ops: Any, entries: list[bytes], keys: list[int], olds: list[int], news: list[int],
                 buckets: list[int], deltas: list[int]) -> None:
        self.ops, self.entries, self.keys, self.olds, self.news = ops, entries, keys, olds, news
        self.buckets, self.deltas = buckets, deltas

    def changes(self) -> list[Change]:
        """(old, new) slot content of each changed key."""
        op_keys, op_values, entries = self.ops.keys, self.ops.values, self.entries
        n_ops = len(op_keys)
        out = []
        for o, nw in zip(self.olds, self.news):
            if nw < 0:
                new = None
            elif nw < n_ops:
                new = _new_value((op_keys[nw], op_values[nw]))
            else:
                new = _value_of(entries[nw - n_ops])
            out.append((None if o < 0 else _value_of(entries[o - n_ops]), new))
        return out


class StateOverlay:
    """One block's uncommitted changes over a `SaltStore` (§5): apply → new root; commit or discard. Used
    from one thread at a time (reads settle pending changes, `_settle`)."""

    def __init__(self, store: SaltStore, be: Backend | None = None) -> None:
        self.store = store
        self.be = be or backend()
        self._txn: lmdb.Transaction | None = store.env.begin(buffers=False)
        self._reader = _OverlayReader(self._txn, store.kv_db, store.nodes_db)
        raw = self._reader.node_get(_U64BE.pack(0))
        self._base_root = default_commitment(0) if raw is None else raw
        self._reader.node_cache = store._node_cache_for(self._base_root, self._txn, self.be)
        self._shi = ShiState(self._reader, be=self.be)
        self._updates = StateUpdates()
        # The last apply's updates of its Python-path groups and its C-path groups' compact results,
        # not yet in `_shi` / `_updates` (see `_settle`).
        self._pending: tuple[StateUpdates, list[_FlatResult]] | None = None
        self.last: TrieResult | None = None

    @property
    def shi(self) -> ShiState:
        """The overlay's SHI state: its slot cache and bucket usage hold every change applied."""
        self._settle()
        return self._shi

    @property
    def updates(self) -> StateUpdates:
        """All SALT-level changes (SaltKey → (old, new)) applied so far, chained."""
        self._settle()
        return self._updates

    def plain_value(self, plain_key: bytes) -> bytes | None:
        """Current value of a plain key (overlay over committed state)."""
        return self.shi.plain_value(plain_key)

    def apply(self, items: PlainUpdates | Iterable[tuple[bytes, bytes | None]]) -> bytes:
        """Apply plain-key updates (None = delete) in sorted key order, update the trie; return the new root.

        Pipelined: the keys are split by main-trie level-1 subtree (bucket >> 16) into groups; while
        the SHI work (§2.3) of a group runs here (in C for flat buckets, `_flat_group`, else in
        Python), the curve work of the previous groups (§5.1, levels 3 → 1) runs on a C thread
        (`Backend.leaves_to_level1`); at the end this thread takes the jobs still queued, newest
        first. Buckets never interact, so
        the slot layout and the updates are those of one sorted pass (§2.3 history independence; a
        group is worked in bucket order, each bucket's keys in sorted order);
        a group that resizes a bucket (metadata writes land in level-1 node 1) is updated last.
        The C path's slot changes stay in C's compact form until `shi`, `updates`, a read, the next
        apply or the commit needs them (`_settle`)."""
        with _no_cyclic_gc():
            if isinstance(items, Mapping):  # unique keys: sort them alone (no pair per key)
                keys = sorted(items)
                return self._apply(keys, list(map(items.__getitem__, keys)))
            ordered = _sorted_items(items)
            return self._apply([k for k, _ in ordered], [v for _, v in ordered])

    def _apply(self, keys: list[bytes], values: list[bytes | None]) -> bytes:
        """`apply` of the plain keys `keys` (ascending; equal keys in the given order) and their `values`."""
        self._settle()
        shi, reader, be = self._shi, self._reader, self.be
        flat = getattr(be, "shi_flat", None) if not shi.cache else None  # C SHI needs untouched buckets
        buckets = shi.prepare(keys, probes=flat is None)  # C hashes its own probes
        n = len(keys)
        n_groups = max(1, min(_MAX_GROUPS, n // _GROUP_KEYS))
        # Op indices in bucket order (stable: each bucket's keys stay sorted), cut into groups of
        # whole level-1 subtrees (`_group_starts`).
        by_order = getattr(be, "order_by_bucket", None)
        if by_order is not None:
            order, by_bucket = by_order(buckets)
        else:
            order = sorted(range(n), key=buckets.__getitem__)
            by_bucket = [buckets[i] for i in order]
        cuts = [0, *(bisect_left(by_bucket, start << 16) for start in _group_starts(n_groups)), n]
        ops = be.pack_ops(keys, values, buckets) if flat is not None else None  # type: ignore[attr-defined]
        capacity = self._capacity
        all_ups = StateUpdates()
        flats: list[_FlatResult] = []
        parts: list[BelowRoot] = []
        deferred: dict[int, Change] = {}
        try:
            for g in range(n_groups):
                lo, hi = cuts[g], cuts[g + 1]
                if lo == hi:
                    continue
                part = self._flat_group(ops, order[lo:hi], by_bucket[lo:hi], flat) if ops is not None else None
                if part is not None:
                    flats.append(part[1])
                    part[0].start(be, background=True)
                    parts.append(part[0])
                    continue
                group = [(buckets[i], keys[i], values[i]) for i in order[lo:hi]]
                if flat is not None:
                    shi.prepare_probes([k for _, k, _ in group])
                ups = shi.update_prepared(group)
                ups.merge(shi.canonicalize())
                data = ups.data
                all_ups.data.update(data)  # groups touch disjoint buckets and metadata slots
                if any(k < _META_KEYS_END for k in data):
                    deferred.update(data)
                    continue
                part = plan_below_root(reader, data, capacity, be)
                part.start(be, background=True)
                parts.append(part)
            if deferred:
                part = plan_below_root(reader, deferred, capacity, be)
                part.start(be)
                parts.append(part)
        except BaseException:
            _wait_all(parts, quiet=True)
            raise
        # Every group's job went to the C thread's queue; newest first, a job still queued runs here
        # while the C thread works through the older ones (two threads on the backlog, one job each).
        _wait_all(parts[::-1])
        result = finish_root(reader, parts, be)
        self._record(all_ups, result, flats)
        return result.root

    def _flat_group(
        self, ops: Any, idx: Sequence[int], by_bucket: Sequence[int], shi_flat: Callable[..., Any]
    ) -> tuple[BelowRoot, _FlatResult] | None:
        """The SHI ops (§2.3) of one group (`ops[i]` for i in `idx`, in data buckets `by_bucket`,
        ascending) in C (`NativeBackend.shi_flat`) when all its buckets are flat (capacity 256) and
        untouched by this overlay and none resizes: returns the group's trie part and its changes in
        compact form (`_settle` writes them to the cache, usage and updates). None: the Python path
        runs the group. Same results as `ShiState.update_prepared` (buckets are independent; tests
        compare both)."""
        reader, shi = self._reader, self._shi
        buckets = list(dict.fromkeys(by_bucket))  # ascending
        metas = reader.preloaded_metas()
        if metas is None:
            ms = [shi.meta(b) for b in buckets]
        elif metas.keys().isdisjoint(buckets):  # all default (the common case)
            ms = None
        else:
            ms = [metas.get(b, DEFAULT_META) for b in buckets]
        if ms is None:
            nonces = [0] * len(buckets)
        elif any(m.capacity != MIN_BUCKET_SIZE for m in ms):
            return None
        else:
            nonces = [m.nonce for m in ms]
        stored = reader.flat_buckets(buckets)
        if stored is None:
            return None
        entry_off, slots, entries, olds_all = stored
        res = shi_flat(buckets, nonces, entry_off, slots, entries, ops, idx)
        if res is None:
            return None
        counts, deltas, keys, olds, news, packed = res
        leaf_ids = [_BUCKET0 + b for b, c in zip(buckets, counts) if c]
        leaf_olds = [o for o, c in zip(olds_all, counts) if c]
        result = _FlatResult(ops, entries, keys, olds, news, buckets, deltas)
        slots_changed = bytes([k & 0xFF for k in keys])
        changes = PackedChanges(len(keys), packed, result.changes)
        leaves = (leaf_ids, [c for c in counts if c], slots_changed, changes)
        return BelowRoot(reader, leaves, {}, {}, 0, leaf_olds), result

    def _capacity(self, bucket: int) -> int:
        return self._shi.meta(bucket).capacity

    def _record(self, ups: StateUpdates, result: TrieResult, flats: list[_FlatResult] | None = None) -> None:
        self._reader.nodes.update(result.nodes)
        self._pending = (ups, flats or [])
        self.last = result

    def _settle(self) -> None:
        """Write the last apply's pending changes: its C-path groups' slots to the cache and usage, and
        all its updates to `updates` (chained onto the earlier ones)."""
        if self._pending is None:
            return
        (ups, flats), self._pending = self._pending, None
        cache, usage, data = self._shi.cache, self._shi.usage_delta, ups.data
        for fr in flats:
            for key, ch in zip(fr.keys, fr.changes()):
                data[key] = ch
                cache[key] = ch[1]
            for b, d in zip(fr.buckets, fr.deltas):
                if d:
                    usage[b] = usage.get(b, 0) + d
        if self._updates.data:
            self._updates.merge(ups)
        else:  # the first batch: its transitions are the overlay's (no chaining, no sort; never no-ops)
            self._updates.data.update(data)

    def apply_state_updates(self, ups: StateUpdates) -> bytes:
        """Trie update for SALT-level updates already applied to `self.shi` (§5)."""
        self._settle()
        result = update_trie(self._reader, ups, self._capacity, self.be)
        self._record(StateUpdates({k: ch for k, ch in ups.data.items() if ch[0] != ch[1]}), result)
        return result.root

    def commit(self, txn: lmdb.Transaction | None = None) -> None:
        """Write all slot and node changes in one LMDB write transaction (the caller's `txn` when given,
        so chain data and state commit together), then close the overlay."""
        if self._txn is None:
            raise RuntimeError("overlay already closed")
        self._close_read()
        if txn is None:
            with self.store.env.begin(write=True) as own:
                self._write(own)
        else:
            self._write(txn)

    def _write(self, txn: lmdb.Transaction) -> None:
        kv_db, nodes_db = self.store.kv_db, self.store.nodes_db
        put_kv = txn.cursor(db=kv_db)
        for key, v in sorted(self.shi.cache.items()):
            k = _U64BE.pack(key)
            if v is None or (v == DEFAULT_META_VALUE and is_meta_key(key)):
                if put_kv.set_key(k):
                    put_kv.delete()
            else:
                put_kv.put(k, v.to_bytes())
        put_n = txn.cursor(db=nodes_db)
        for n, c in sorted(self._reader.nodes.items()):
            k = _U64BE.pack(n)
            if c == default_commitment(n):
                if put_n.set_key(k):
                    put_n.delete()
            else:
                put_n.put(k, c)
        nodes = self._reader.nodes
        self.store._pending = (
            self._base_root,
            nodes.get(0, self._base_root),
            {n: c for n, c in nodes.items() if n < _CACHED_NODES},
            {n - _BUCKET0: c != _DATA_LEAF_DEFAULT for n, c in nodes.items() if _DATA_LEAF0 <= n < _SEGMENT0},
        )

    def witness(self, plain_keys: Iterable[bytes]) -> SaltWitness:
        """SALT witness (§6.1–6.2, §6.5) of the committed state under this overlay (changes applied here
        are not included) for `plain_keys`: each key's bucket metadata slot and its probe run from the
        ideal slot until as many empty slots as the bucket has requested keys (enough for their reads,
        inserts and deletes, §2.3), the bucket levels, the required commitments and the proof."""
        if self._txn is None:
            raise RuntimeError("overlay already closed")
        reader = _OverlayReader(self._txn, self.store.kv_db, self.store.nodes_db)
        shi = ShiState(reader, be=self.be)
        keys = list(dict.fromkeys(plain_keys))
        shi.prepare(keys)
        per_bucket: dict[int, int] = {}
        for pk in keys:
            b = shi.bucket(pk)
            per_bucket[b] = per_bucket.get(b, 0) + 1
        kvs: dict[int, SaltValue | None] = {}
        levels: dict[int, int] = {}
        for pk in keys:
            b = shi.bucket(pk)
            meta = shi.meta(b)
            mk = metadata_key(b)
            kvs[mk] = reader.slot_value(mk)
            levels[mk >> BUCKET_SLOT_BITS] = 1
            levels[b] = 5 - subtree_root_level(meta.capacity)
            base, cap = b << BUCKET_SLOT_BITS, meta.capacity
            h, empties = shi.probe(pk, meta.nonce) % cap, per_bucket[b]
            for step in range(cap):
                k = base | (h + step) % cap
                v = kvs[k] = reader.slot_value(k)
                if v is None:
                    empties -= 1
                    if not empties:
                        break
        kvs = dict(sorted(kvs.items()))
        return SaltWitness(kvs, create_proof(kvs, levels, self.proof_source()))

    def proof_source(self) -> ProofSource:
        """`create_proof` input over the committed state under this overlay (§6.5)."""
        if self._txn is None:
            raise RuntimeError("overlay already closed")
        return _CommittedSource(self._txn, self.store.kv_db, self.store.nodes_db, self.be)

    def discard(self) -> None:
        """Drop all changes."""
        self._close_read()

    def _close_read(self) -> None:
        if self._txn is not None:
            self._txn.abort()
            self._txn = None


class _WitnessSlots:
    """The slot half of a `WitnessState`, which its `ShiState` reads through: a separate object, so that
    the state and its SHI view form no reference cycle (freed when the block is done, not by the collector)."""

    def __init__(self, kvs: dict[int, SaltValue | None], lookup: dict[bytes, int]) -> None:
        self.kvs, self.lookup = kvs, lookup

    def slot_value(self, key: int) -> SaltValue | None:
        try:
            v = self.kvs[key]
        except KeyError:
            raise WitnessMissingKey(f"slot {key >> BUCKET_SLOT_BITS}:{key & ((1 << 40) - 1)} not in witness") from None
        if v is None and is_meta_key(key):
            return DEFAULT_META_VALUE
        return v

    def bucket_meta(self, bucket: int) -> BucketMeta:
        v = self.slot_value(metadata_key(bucket))
        return DEFAULT_META if v is None else BucketMeta.from_value(v)

    def bucket_used(self, bucket: int) -> None:
        return None

    def plain_lookup(self, plain_key: bytes) -> int | None:
        return self.lookup.get(plain_key)


class WitnessState:
    """Read-only SALT view over a decoded witness (§6.1, §7): unknown slots/nodes raise `WitnessMissingKey`.

    Supports the stateless apply → new-root path: no load-factor resize (`bucket_used` is unknown),
    expanded-bucket capacity from metadata when present, else `256 ** levels[bucket]`.
    """

    def __init__(self, witness: SaltWitness, be: Backend | None = None) -> None:
        self.be = be or backend()
        self.kvs: dict[int, SaltValue | None] = dict(witness.kvs)
        self.levels = dict(witness.proof.levels)
        self._compressed = witness.proof.parents_commitments
        self._own_backend = be is not None
        self.lookup: dict[bytes, int] = {
            v[0]: k for k, v in self.kvs.items() if v is not None and not is_meta_key(k)}
        self._slots = _WitnessSlots(self.kvs, self.lookup)
        self.shi = ShiState(self._slots, be=self.be)

    @cached_property
    def commitments(self) -> dict[int, bytes]:
        """Node id → commitment, decompressed on first use: reads of slots (a replay) need none. The default
        backend's points come from `decode_points`' cache, which `verify_witness` fills (decompression is ~10 us
        a point, ~7 ms for a real block's witness)."""
        ids = list(self._compressed)
        compressed = [self._compressed[n] for n in ids]
        points = (self.be.decompress_many(compressed) if self._own_backend
                  else [p for p, _ in decode_points(compressed)])
        return dict(zip(ids, points, strict=True))

    # SlotReader
    def slot_value(self, key: int) -> SaltValue | None:
        return self._slots.slot_value(key)

    def bucket_meta(self, bucket: int) -> BucketMeta:
        return self._slots.bucket_meta(bucket)

    def bucket_used(self, bucket: int) -> None:
        return self._slots.bucket_used(bucket)

    def plain_lookup(self, plain_key: bytes) -> int | None:
        return self._slots.plain_lookup(plain_key)

    # NodeReader
    def node(self, node_id: int) -> bytes:
        try:
            return self.commitments[node_id]
        except KeyError:
            raise WitnessMissingKey(f"commitment of node {node_id} not in witness") from None

    def capacity(self, bucket: int) -> int:
        """Committed capacity of a data bucket: its metadata if witnessed, else `256 ** levels`."""
        mk = metadata_key(bucket)
        if mk in self.kvs or mk in self.shi.cache:
            return self.shi.meta(bucket).capacity
        if bucket in self.levels:
            return MIN_BUCKET_SIZE ** self.levels[bucket]
        raise WitnessMissingKey(f"capacity of bucket {bucket} not in witness")

    def pre_root(self) -> bytes:
        """State root the witness proves (before the block)."""
        return root_hash(self.node(0), self.be)

    def apply(self, items: PlainUpdates | Iterable[tuple[bytes, bytes | None]]) -> tuple[bytes, StateUpdates]:
        """Stateless post-state root (stateless-validator.md §7): in-place updates of present keys first,
        then inserts/deletes, in sorted plain-key order; then canonicalize and the trie delta update."""
        with _no_cyclic_gc():
            return self._apply(items)

    def _apply(self, items: PlainUpdates | Iterable[tuple[bytes, bytes | None]]) -> tuple[bytes, StateUpdates]:
        shi = self.shi
        ordered = _sorted_items(items)
        updates = StateUpdates()
        queued = []
        shi.prepare([pk for pk, _ in ordered])
        for pk, pv in ordered:
            if pv is None or not shi.upsert_present(pk, pv, updates):
                queued.append((pk, pv))
        updates.merge(shi.update(queued))
        updates.merge(shi.canonicalize())
        result = update_trie(self, updates, self._trie_capacity, self.be)
        self.commitments.update(result.nodes)
        for k, v in shi.cache.items():
            self.kvs[k] = v
        shi.cache.clear()
        return result.root, updates

    def _trie_capacity(self, bucket: int) -> int:
        return self.capacity(bucket)
