"""SALT commitments: default (empty-state) commitments, delta state-root update, from-scratch rebuild.

Spec: spec/salt.md §4.3–4.4 (node commitments, defaults), §5 (update rule, expanded buckets,
expansion/contraction, rebuild). All group work goes through `salt.pedersen.backend()`, one
`commit_deltas` and one `map_to_scalars` call per subtree level, two calls for main-trie levels
3 → 1 (`commit_slot_deltas` for the leaves, `propagate_main` up to level 1, or both in one
background `leaves_to_level1`), and one `commit_deltas` for the root (`finish_root`). A reader that
holds levels 0–2 in one buffer (`nodes012`) lets the background job (`leaves_to_level1_flat`) find
and read the ancestors itself and sum its part of the root update (`root_from_level1`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import ne
from typing import Protocol

from salt.banderwagon import R
from salt.constants import (
    BUCKET_SLOT_BITS,
    BUCKET_SLOT_ID_MASK,
    MIN_BUCKET_SIZE,
    NUM_META_BUCKETS,
    STARTING_NODE_ID,
)
from salt.pedersen import Backend, backend
from salt.shi import StateUpdates
from salt.types import (
    DEFAULT_META,
    DEFAULT_META_VALUE,
    EMPTY_SLOT_SCALAR,
    BucketMeta,
    SaltValue,
    bucket_of_metadata_key,
    child_node,
    kv_hash,
    main_ancestors,
    node_level,
    parent_node,
    subtree_node,
    subtree_root_level,
    vc_position,
)

_S = STARTING_NODE_ID
_BUCKET0 = _S[3]
_SEG0 = _S[4]
_META_KEYS_END = NUM_META_BUCKETS << BUCKET_SLOT_BITS  # SaltKeys below are metadata slots

# §4.4: (main-trie default for ids below the threshold, default above), per main level; subtree defaults.
_MAIN_DEFAULTS = (
    (_S[0] + 1,
     "a2f11cbb573b3beba869c4417fd616e550f66feea3edcf6b8979bee66dd18767d744099c52a92477cb2e005ca3665892ce7860ccaf476aa224528837e5732270",
     "a2f11cbb573b3beba869c4417fd616e550f66feea3edcf6b8979bee66dd18767d744099c52a92477cb2e005ca3665892ce7860ccaf476aa224528837e5732270"),
    (_S[1] + 1,
     "b744bfb480faaaaecfb534e10ce111489c89cc43ab90a380ef5eb0f8668b731049cd9f4222b06ca3e41d624b573b83e67a9f251ae7f4e26cd496fd4005fc8c72",
     "866b0fd149ea8e233d295dff7b91af9ac54e82e3083a979e068fe9f5a8747832f59ed53dfd1e939bdcbf9e1bbc87752c8fe8537c662f537ebfde227ce7845659"),
    (_S[2] + 256,
     "9ed527e0e507e93c05d5a77184211e6bbf6e1820fdc7cd36387c4d52f8b931182f47ece1ebb6dad09b8b96062bc5241b143e03f36e69ffb83b0ef8d99f818772",
     "1d8d81bcb60ff180ff99c497a8298af38d71d2fbf3c0ffda09b659839e3732612771a485191ab8fe740dc20d1a33c53f8cfbb1c07676d74050de914c0efc7f54"),
    (_S[3] + NUM_META_BUCKETS,
     "e07db25c34ee2ddb23992be6e8c3a9fc0c3b3c23effd4089cb262524ce64671abc3da78e1f67a926db11faa1385ca8d35aee7905cff1251536c75b73f60ed16b",
     "da260863cc36b265d34f9912c3b98ae7e046ced37bf5eebe1be164695093714efc9e5b23b9ab87c9f7b51e4fec4ea377e4fe44672d70752f7c3522e0f0269555"),
)
_SUBTREE_DEFAULTS = (
    "a7bba7dcf3ad2fbb9fd792f875adad094bb67119f2e83fd751299d9195d7301cfece2bfd0cbc9ce1150cd3a653377c9a038af061a0d8ebe4de54143ffe3cb172",
    "db1c8437754289cd759fa15c051b03950c135a8b67176946020087cdd86f0c2f660ba555b18020f3941854a87060bcf92b39312a63dcd21fc9b629ee6b0ca570",
    "866b0fd149ea8e233d295dff7b91af9ac54e82e3083a979e068fe9f5a8747832f59ed53dfd1e939bdcbf9e1bbc87752c8fe8537c662f537ebfde227ce7845659",
    "1d8d81bcb60ff180ff99c497a8298af38d71d2fbf3c0ffda09b659839e3732612771a485191ab8fe740dc20d1a33c53f8cfbb1c07676d74050de914c0efc7f54",
    "da260863cc36b265d34f9912c3b98ae7e046ced37bf5eebe1be164695093714efc9e5b23b9ab87c9f7b51e4fec4ea377e4fe44672d70752f7c3522e0f0269555",
)
MAIN_DEFAULTS: tuple[tuple[int, bytes, bytes], ...] = tuple(
    (t, bytes.fromhex(lo), bytes.fromhex(hi)) for t, lo, hi in _MAIN_DEFAULTS)
SUBTREE_DEFAULTS: tuple[bytes, ...] = tuple(bytes.fromhex(h) for h in _SUBTREE_DEFAULTS)
EMPTY_ROOT = bytes.fromhex("9d7218471640948ac51ad7ea7f589af28c19605bd96faaaf1204b5da36a09201")


def default_commitment(node: int) -> bytes:
    """Commitment of a node in the empty state (§4.4)."""
    level = node_level(node)
    if node >> BUCKET_SLOT_BITS:
        return SUBTREE_DEFAULTS[level]
    threshold, low, high = MAIN_DEFAULTS[level]
    return low if node < threshold else high


def compute_default_commitments(be: Backend | None = None) -> tuple[list[bytes], list[bytes]]:
    """Recompute §4.4 from scratch: ([root, L1 meta, L1 data, L2 meta, L2 data, L3 meta, L3 data], subtree L0..L4)."""
    be = be or backend()
    l3m = be.commit([kv_hash(DEFAULT_META_VALUE)] * 256)
    l3d = be.commit([EMPTY_SLOT_SCALAR] * 256)
    ms = dict(zip((l3m, l3d), be.map_to_scalars([l3m, l3d]), strict=True))
    l2m = be.commit([ms[l3m]] * 256)
    l2d = be.commit([ms[l3d]] * 256)
    ms.update(zip((l2m, l2d), be.map_to_scalars([l2m, l2d]), strict=True))
    l1m = be.commit([ms[l2m]] * 256)
    l1d = be.commit([ms[l2d]] * 256)
    ms.update(zip((l1m, l1d), be.map_to_scalars([l1m, l1d]), strict=True))
    root = be.commit([ms[l1m]] + [ms[l1d]] * 255)
    sub = [l3d, l2d, l1d]  # subtree levels 4, 3, 2 coincide with the main-trie data defaults
    for _ in range(2):
        sub.append(be.commit(be.map_to_scalars([sub[-1]]) * 256))
    return [root, l1m, l1d, l2m, l2d, l3m, l3d], sub[::-1]


def root_hash(commitment: bytes, be: Backend | None = None) -> bytes:
    """State root = LE32(map_to_scalar(C_0)) (§4.3)."""
    return (be or backend()).map_to_scalars([commitment])[0].to_bytes(32, "little")


class NodeReader(Protocol):
    """Committed node commitments (64-byte); default when absent, raise when unknown (witness)."""

    def node(self, node_id: int) -> bytes: ...


@dataclass
class TrieResult:
    """New state root, changed nodes (node id → new commitment), and EC multiplications used."""

    root: bytes
    nodes: dict[int, bytes]
    ecmuls: int


def _meta_capacity(v: SaltValue | None) -> int:
    return (DEFAULT_META if v is None else BucketMeta.from_value(v)).capacity


class _Level:
    """Pending work at one trie level: node → deltas, with optional base/orig overrides."""

    __slots__ = ("deltas", "base", "orig")

    def __init__(self) -> None:
        self.deltas: dict[int, list[tuple[int, int]]] = {}
        self.base: dict[int, bytes] = {}  # value to add deltas to (instead of the stored one)
        self.orig: dict[int, bytes] = {}  # value the parent currently accounts for (if not the base)


def update_trie(
    reader: NodeReader,
    updates: StateUpdates,
    capacity_of: Callable[[int], int],
    be: Backend | None = None,
) -> TrieResult:
    """Apply `updates` to the committed trie by the delta rule (§5.1–5.2).

    `capacity_of(bucket)` gives the committed capacity of a data bucket whose metadata does not
    change in `updates`. Returned `nodes` include subtree nodes; a new value equal to
    `default_commitment(id)` means "reset" (stores may delete it).
    """
    be = be or backend()
    work = plan_below_root(reader, updates.data, capacity_of, be)
    work.start(be)
    return finish_root(reader, [work], be)


class BelowRoot:
    """The trie update (§5.1–5.2) of a set of slot changes up to main-trie level 1, in three steps:
    `plan_below_root` (node reads, subtrees), `start` (main-trie levels 3 → 1, in the background
    when the backend can: the caller goes on meanwhile), `finish_root` (waits; the root).
    Updates whose level-1 subtrees are disjoint may be planned and run separately (§5.1: the delta
    sums per node do not depend on how the changes are grouped)."""

    def __init__(
        self,
        reader: NodeReader,
        leaves: tuple[list[int], list[int], bytes, list[tuple[SaltValue | None, SaltValue | None]]],
        main3: dict[int, bytes],
        changed: dict[int, bytes],
        ecmuls: int,
        leaf_olds: list[bytes] | None = None,
    ) -> None:
        """`leaf_olds`: the leaves' committed commitments when the caller has them (else read)."""
        node = reader.node
        self.leaf_ids, self.counts, self.slots, self.changes = leaves
        self.leaf_olds = [node(n) for n in self.leaf_ids] if leaf_olds is None else leaf_olds
        self.main3 = main3  # level-3 id → new value from a subtree top (buckets not among the leaves)
        self.main3_olds = {n: node(n) for n in main3}
        self.ids = sorted([*self.leaf_ids, *main3]) if main3 else self.leaf_ids
        # Levels 0–2 of the committed trie in one buffer when the reader has it (`nodes012`): then a job
        # of flat leaves finds and reads their ancestors itself (`Backend.leaves_to_level1_flat`).
        self.nodes012 = None if main3 else _nodes012(reader)
        self.anc: list[int] = []
        self.anc_olds: list[bytes] = []
        self.root_partial: bytes | None = None  # a flat job's part of the root update (`finish_root`)
        self.n_level1 = 0  # ... and its number of changed level-1 nodes
        if self.nodes012 is None:
            self._read_ancestors(reader)
        self.changed = changed
        self.ecmuls = ecmuls
        self.level3: list[tuple[int, bytes, bytes]] = []  # (id, old, new) of the leaves updated here
        self.leaf_news: list[bytes] | None = None  # or the leaves' new commitments from a job
        self.anc_news: list[bytes] = []
        self._wait: Callable[[], tuple] | None = None  # a job's waiter (`leaves_to_level1[_flat]`)

    def _read_ancestors(self, reader: NodeReader) -> None:
        self.anc = main_ancestors(self.ids, 1)
        many = getattr(reader, "node_many", None)  # a bulk read when the reader has one
        self.anc_olds = many(self.anc) if many is not None else [reader.node(a) for a in self.anc]

    def start(self, be: Backend, background: bool = False) -> None:
        """Leaf commitments, then their ancestors up to level 1: when only flat buckets' leaves change
        in one `Backend.leaves_to_level1` job (`leaves_to_level1_flat` over `nodes012`), left to the
        background with `background` (`wait` collects), else here."""
        self.ecmuls += len(self.changes)
        if not self.leaf_ids and not self.main3:
            return
        if self.nodes012 is not None:
            leaves = (self.leaf_ids, self.leaf_olds, self.counts, self.slots, self.changes)
            self._wait = be.leaves_to_level1_flat(*leaves, self.nodes012, background)
            if not background:
                self.wait()
            return
        if not self.main3:
            self._wait = be.leaves_to_level1(
                self.leaf_ids, self.leaf_olds, self.counts, self.slots, self.changes, self.anc_olds, background)
            if not background:
                self.wait()
            return
        news = be.commit_slot_deltas(self.leaf_olds, self.counts, self.slots, self.changes) if self.leaf_ids else []
        level3 = list(zip(self.leaf_ids, self.leaf_olds, news, strict=True))
        self.level3 = sorted(level3 + [(n, self.main3_olds[n], nv) for n, nv in self.main3.items()])
        self.anc_news, ec = be.propagate_main(
            self.ids, [t[1] for t in self.level3], [t[2] for t in self.level3], self.anc_olds, top=1)
        self.ecmuls += ec

    def wait(self) -> None:
        """Collect the results of a background `start` (no-op otherwise)."""
        wait, self._wait = self._wait, None  # the backend's waiter may run only once
        if wait is not None:
            if self.nodes012 is not None:  # only the changed ancestors come back, and their root part
                news, self.anc, self.anc_news, self.root_partial, ec = wait()
                self.n_level1 = sum(map(_S[2].__gt__, self.anc))
            else:
                news, self.anc_news, ec = wait()
            if len(news) != len(self.leaf_ids):
                raise ValueError("leaves_to_level1: one new commitment per leaf expected")
            self.leaf_news = news
            self.ecmuls += ec

    def level1(self, changed: dict[int, bytes]) -> list[tuple[int, bytes, bytes]]:
        """Record the changed nodes (`self.changed` and those of levels 3 → 1) in `changed`; return the
        changed level-1 nodes (id, old, new), but none after a `nodes012` job (its `root_partial`
        accounts for them)."""
        self.wait()
        changed.update(self.changed)
        if self.leaf_news is not None:  # the leaves of a `leaves_to_level1` job
            news = self.leaf_news
            changed.update(compress(zip(self.leaf_ids, news), map(ne, self.leaf_olds, news)))
        for i, o, nw in self.level3:
            if o != nw:
                changed[i] = nw
        if self.nodes012 is not None:
            changed.update(zip(self.anc, self.anc_news))
            return []
        out = []
        first1 = _S[1]
        for a, o, nw in zip(self.anc, self.anc_olds, self.anc_news, strict=True):
            if o != nw:
                changed[a] = nw
                if a < _S[2] and a >= first1:
                    out.append((a, o, nw))
        return out


def _nodes012(reader: NodeReader) -> bytes | None:
    """The reader's committed main-trie levels 0–2 in one buffer (64 bytes per node id), if it has them."""
    get = getattr(reader, "nodes012", None)
    return None if get is None else get()


def plan_below_root(
    reader: NodeReader,
    data: Mapping[int, tuple[SaltValue | None, SaltValue | None]],
    capacity_of: Callable[[int], int],
    be: Backend,
) -> BelowRoot:
    """Group `data` (SaltKey → (old, new)) per leaf node, update expanded / resized buckets'
    subtrees (§5.2) and read the main-trie nodes `BelowRoot.start` needs."""
    # Capacities of buckets whose metadata changes (old, new).
    caps: dict[int, tuple[int, int]] = {}
    for key in [k for k in data if k < _META_KEYS_END]:
        old, new = data[key]
        oc, nc = _meta_capacity(old), _meta_capacity(new)
        if oc != nc:
            caps[bucket_of_metadata_key(key)] = (oc, nc)

    # Flat buckets: slot changes grouped per main level-3 node (ascending keys → ascending nodes).
    leaf_ids: list[int] = []
    counts: list[int] = []
    slots = bytearray()
    changes: list[tuple[SaltValue | None, SaltValue | None]] = []
    seg: dict[int, list[tuple[int, int]]] = {}  # subtree segments of expanded / resized buckets
    sub_buckets: dict[int, tuple[int, int]] = {}
    last, flat = -1, True
    for key, change in sorted(data.items()):
        b = key >> BUCKET_SLOT_BITS
        if b != last:  # a bucket's keys are consecutive
            last = b
            if b >= NUM_META_BUCKETS:
                oc, nc = caps.get(b) or (capacity_of(b),) * 2
                flat = oc <= MIN_BUCKET_SIZE and nc <= MIN_BUCKET_SIZE
                if not flat:
                    sub_buckets[b] = (oc, nc)
            else:
                flat = True
            if flat:
                leaf_ids.append(_BUCKET0 + b)
                counts.append(0)
        if flat:
            counts[-1] += 1
            slots.append(key & 0xFF)
            changes.append(change)
        else:
            old, new = change
            n = (b << BUCKET_SLOT_BITS) + ((key & BUCKET_SLOT_ID_MASK) >> 8) + _SEG0
            seg.setdefault(n, []).append((key & 0xFF, (kv_hash(new) - kv_hash(old)) % R))
    if caps:
        touched = {k >> BUCKET_SLOT_BITS for k in data}
        for b, oc_nc in caps.items():  # capacity change without slot changes
            if b not in touched and (oc_nc[0] > MIN_BUCKET_SIZE or oc_nc[1] > MIN_BUCKET_SIZE):
                sub_buckets[b] = oc_nc

    changed: dict[int, bytes] = {}
    ecmuls = 0
    main3: dict[int, bytes] = {}  # main bucket node → new value from a subtree top
    if sub_buckets:
        ecmuls += _update_subtrees(reader, be, seg, sub_buckets, changed, main3)
    return BelowRoot(reader, (leaf_ids, counts, bytes(slots), changes), main3, changed, ecmuls)


def finish_root(reader: NodeReader, parts: Sequence[BelowRoot], be: Backend) -> TrieResult:
    """The root update (§5.1 step 3–4) over `parts` that have run (disjoint level-1 subtrees)."""
    changed: dict[int, bytes] = {}
    level1: list[tuple[int, bytes, bytes]] = []
    partials: list[bytes] = []
    ecmuls = 0
    for part in parts:
        level1 += part.level1(changed)
        ecmuls += part.ecmuls
        if part.n_level1:
            partials.append(part.root_partial)  # type: ignore[arg-type]
            ecmuls += part.n_level1
    old_root = reader.node(0)
    root = old_root
    flat = _nodes012(reader)
    if flat is None and partials:  # parts summed level-1 changes over a buffer the reader no longer gives
        raise ValueError("finish_root: the parts ran on a level 0-2 buffer the reader no longer has")
    if flat is not None and (level1 or partials):
        level1.sort()
        root = be.root_from_level1(flat, [i for i, _, _ in level1], [nw for _, _, nw in level1], partials)
        ecmuls += len(level1)
        if root != old_root:
            changed[0] = root
    elif level1:
        level1.sort()
        scal = be.map_to_scalars([c for _, o, nw in level1 for c in (o, nw)])
        deltas = [(i - _S[1], (scal[2 * j + 1] - scal[2 * j]) % R) for j, (i, _, _) in enumerate(level1)]
        root = be.commit_deltas([old_root], [deltas])[0]
        ecmuls += len(level1)
        if root != old_root:
            changed[0] = root
    return TrieResult(root_hash(root, be), changed, ecmuls)


def _update_subtrees(
    reader: NodeReader,
    be: Backend,
    seg: dict[int, list[tuple[int, int]]],
    sub_buckets: dict[int, tuple[int, int]],
    changed: dict[int, bytes],
    main3: dict[int, bytes],
) -> int:
    """Expanded / resized buckets (§5.2): segments → subtree top, whose value goes to the main node."""
    node = reader.node
    levels = [_Level() for _ in range(5)]
    levels[4].deltas = seg
    top_level: dict[int, int] = {}
    for b, (oc, nc) in sub_buckets.items():
        ot, nt = subtree_root_level(oc), subtree_root_level(nc)
        top_level[b] = nt
        top = subtree_node(b, nt, 0)
        main_c = node(_BUCKET0 + b)
        if nt == ot:
            levels[nt].base[top] = main_c
        elif nt < ot:  # expansion: the old top keeps the bucket commitment; new ancestors start default
            old_top = subtree_node(b, ot, 0)
            levels[ot].base[old_top] = main_c
            levels[ot].orig[old_top] = default_commitment(old_top)
            levels[ot].deltas.setdefault(old_top, [])
            levels[nt].base[top] = default_commitment(top)
        else:  # contraction: nodes between the old top and the new top are reset
            for lv in range(ot + 1, nt):
                span = MIN_BUCKET_SIZE ** (5 - lv)
                for i in range((oc + span - 1) // span):
                    n = subtree_node(b, lv, i)
                    o = node(n)
                    if o != default_commitment(n):
                        changed[n] = default_commitment(n)
            o = node(top)
            if o != default_commitment(top):
                changed[top] = default_commitment(top)
        levels[nt].deltas.setdefault(top, [])
    ecmuls = 0
    min_level = min(top_level.values())
    for lv in range(4, min_level - 1, -1):
        work = levels[lv]
        if not work.deltas:
            continue
        ids = list(work.deltas)
        bases = [work.base.get(n) or node(n) for n in ids]
        ecmuls += sum(map(len, work.deltas.values()))
        news = be.commit_deltas(bases, [work.deltas[n] for n in ids])
        up: list[tuple[int, bytes, bytes]] = []
        for n, base, nw in zip(ids, bases, news, strict=True):
            b = n >> BUCKET_SLOT_BITS
            if lv == top_level[b]:
                if n & BUCKET_SLOT_ID_MASK == _S[lv]:
                    main3[_BUCKET0 + b] = nw
                elif base != nw:
                    changed[n] = nw
                continue
            orig = work.orig.get(n, base)
            if base != nw or orig != base:
                changed[n] = nw
            if orig != nw:
                up.append((n, orig, nw))
        if not up:
            continue
        scal = be.map_to_scalars([c for _, o, nw in up for c in (o, nw)])
        parent_deltas = levels[lv - 1].deltas
        for j, (n, _, _) in enumerate(up):
            p = parent_node(n)
            parent_deltas.setdefault(p, []).append((vc_position(n), (scal[2 * j + 1] - scal[2 * j]) % R))
    return ecmuls


def rebuild_root(
    entries: Mapping[int, SaltValue],
    capacities: Mapping[int, int] | None = None,
    be: Backend | None = None,
) -> tuple[bytes, dict[int, bytes]]:
    """From-scratch commitments (§4.3, §5.3): the test oracle. Every non-default node is a full commit.

    `entries`: SaltKey → value for occupied data slots and non-default metadata slots; `capacities`:
    data bucket → capacity (default 256; must agree with the metadata entries). Returns (root hash,
    node id → commitment for all non-default nodes; expanded buckets' tops appear under the main id).
    """
    be = be or backend()
    capacities = dict(capacities or {})
    by_bucket: dict[int, dict[int, SaltValue]] = {}
    for k, v in entries.items():
        by_bucket.setdefault(k >> BUCKET_SLOT_BITS, {})[k & BUCKET_SLOT_ID_MASK] = v
    for b, cap in capacities.items():
        if cap != MIN_BUCKET_SIZE:
            mk_bucket = b >> 8
            by_bucket.setdefault(mk_bucket, {}).setdefault(b & 0xFF, BucketMeta(0, cap).to_value())
    out: dict[int, bytes] = {}
    main3: dict[int, bytes] = {}
    for b in sorted(by_bucket):
        slots = by_bucket[b]
        meta_bucket = b < NUM_META_BUCKETS
        cap = MIN_BUCKET_SIZE if meta_bucket else capacities.get(b, MIN_BUCKET_SIZE)
        empty = kv_hash(DEFAULT_META_VALUE) if meta_bucket else EMPTY_SLOT_SCALAR
        segments: dict[int, list[int]] = {}
        for s, v in slots.items():
            if s >= cap:
                raise ValueError(f"slot {s} beyond capacity {cap} of bucket {b}")
            segments.setdefault(s >> 8, [empty] * 256)[s & 0xFF] = kv_hash(v)
        if cap <= MIN_BUCKET_SIZE:
            main3[_BUCKET0 + b] = be.commit(segments[0])
            continue
        top = subtree_root_level(cap)
        layer = {subtree_node(b, 4, j): be.commit(sc) for j, sc in sorted(segments.items())}
        for lv in range(4, top, -1):
            out.update(layer)
            layer = _commit_parents(layer, be)
        main3[_BUCKET0 + b] = layer.get(subtree_node(b, top, 0), SUBTREE_DEFAULTS[top])
    layer = main3
    for _ in range(3):
        out.update(layer)
        layer = _commit_parents(layer, be)
    out.update(layer)
    root = layer.get(0, default_commitment(0))
    return root_hash(root, be), out


def _commit_parents(children: Mapping[int, bytes], be: Backend) -> dict[int, bytes]:
    """Full commitments of the parents of `children` (other children default)."""
    groups: dict[int, dict[int, bytes]] = {}
    for n, c in children.items():
        groups.setdefault(parent_node(n), {})[vc_position(n)] = c
    out = {}
    for p, kids in sorted(groups.items()):
        first = child_node(p, 0)
        vec = [kids.get(i) or default_commitment(first + i) for i in range(256)]
        out[p] = be.commit(be.map_to_scalars(vec))
    return out
