"""Batch Pedersen/Banderwagon operations on 64-byte commitments: the API every SALT caller uses.

Two implementations with the same functions: `PythonBackend` (reference, `salt.banderwagon`) and
the C backend in `salt.native`. `backend()` returns the C one when it builds and loads, else the
reference; `MEGAETH_SALT_BACKEND=python` forces the reference. Commitments are the 64-byte
"CommitmentBytes" form (x LE ‖ y LE, positive y); scalars are ints (reduced mod R by callers).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from functools import cache
from operator import mul
from struct import iter_unpack
from typing import Protocol

from salt import banderwagon as bw
from salt.constants import STARTING_NODE_ID
from salt.crs import generators
from salt.hasher import ahash
from salt.types import SaltValue, kv_hash, main_ancestors

_IDENTITY64 = bytes(32) + (1).to_bytes(32, "little")  # the identity (0, 1)
Delta = tuple[int, int]  # (generator index 0..255, scalar)
SlotChange = tuple[SaltValue | None, SaltValue | None]  # (old, new) slot content


class PackedChanges(Sequence[SlotChange]):
    """`n` slot changes in their C input form (`packed`: old and new key ‖ value bytes and lengths,
    0xFFFFFFFF = empty, as `salt.native` packs them), e.g. from `NativeBackend.shi_flat`. The C backend
    reads only `packed`; the (old, new) pairs are made by `build` when first read."""

    __slots__ = ("packed", "_n", "_build", "_items")

    def __init__(self, n: int, packed: tuple[bytes, object], build: Callable[[], list[SlotChange]]) -> None:
        self.packed = packed
        self._n = n
        self._build = build
        self._items: list[SlotChange] | None = None

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if self._items is None:
            self._items = self._build()
        return self._items[i]


class Backend(Protocol):
    name: str

    def commit_deltas(self, olds: Sequence[bytes], deltas: Sequence[Sequence[Delta]]) -> list[bytes]:
        """For each node i: C_i + Σ s·G[idx] over deltas[i], as 64-byte commitments."""
        ...

    def commit(self, scalars: Sequence[int]) -> bytes:
        """Σ scalars[i]·G[i] (len ≤ 256) as a 64-byte commitment."""
        ...

    def map_to_scalars(self, commitments: Sequence[bytes]) -> list[int]:
        """map_to_scalar of each 64-byte commitment."""
        ...

    def decompress_many(self, compressed: Sequence[bytes]) -> list[bytes]:
        """32-byte compressed → 64-byte commitments; raise bw.PointDecodeError naming the index."""
        ...

    def compress_many(self, commitments: Sequence[bytes]) -> list[bytes]:
        """64-byte commitments → 32-byte compressed."""
        ...

    def msm(self, points: Sequence[bytes], scalars: Sequence[int]) -> bytes:
        """Σ scalars[i]·points[i] over arbitrary 64-byte points."""
        ...

    def warm(self) -> None:
        """Do one-time set-up (precomputed tables) now rather than inside the first commitment."""
        ...

    def commit_slot_deltas(
        self, olds: Sequence[bytes], counts: Sequence[int], slots: bytes, changes: Sequence[SlotChange]
    ) -> list[bytes]:
        """Leaf update (§5.1 step 1–2): node i gets Σ (kv_hash(new) − kv_hash(old))·G[slot] over its
        `counts[i]` consecutive entries of `slots`/`changes`."""
        ...

    def propagate_main(
        self, ids: Sequence[int], olds: Sequence[bytes], news: Sequence[bytes], anc_olds: Sequence[bytes], top: int = 0
    ) -> tuple[list[bytes], int]:
        """Main-trie levels 3 → `top` (§5.1 step 3; 0 = up to the root) for ascending level-3 `ids`
        changing old → new; `anc_olds` are the commitments of `types.main_ancestors(ids, top)`.
        Returns (their new commitments, number of child deltas = EC multiplications)."""
        ...

    def leaves_to_level1(
        self,
        ids: Sequence[int],
        olds: Sequence[bytes],
        counts: Sequence[int],
        slots: bytes,
        changes: Sequence[SlotChange],
        anc_olds: Sequence[bytes],
        background: bool = True,
    ) -> Callable[[], tuple[list[bytes], list[bytes], int]]:
        """`commit_slot_deltas` of the ascending level-3 nodes `ids`, then `propagate_main(..., top=1)`
        (§5.1 up to level 1), possibly in the background: the returned function, to be called once,
        gives (leaf news, ancestor news, ecmuls of the propagation). `background=False`: the caller
        waits at once, so the job may use every thread."""
        ...

    def leaves_to_level1_flat(
        self,
        ids: Sequence[int],
        olds: Sequence[bytes],
        counts: Sequence[int],
        slots: bytes,
        changes: Sequence[SlotChange],
        nodes012: bytes,
        background: bool = True,
    ) -> Callable[[], tuple[list[bytes], list[int], list[bytes], bytes, int]]:
        """`leaves_to_level1` with the ancestors' old commitments read from `nodes012` (the 65,793
        commitments of main-trie levels 0–2 by node id, 64 bytes each); the returned function gives
        (leaf news, ids of the ancestors whose commitment changed, ascending level 2 then level 1,
        their news, the changed level-1 nodes' part of the root update Σ (s(new) − s(old))·G[id − 1]
        as a point, ecmuls)."""
        ...

    def root_from_level1(
        self, nodes012: bytes, ids: Sequence[int], news: Sequence[bytes], partials: Sequence[bytes] = ()
    ) -> bytes:
        """The root commitment (§5.1) after the level-1 nodes `ids` (ascending) change to `news` (their
        old commitments and the old root read from `nodes012`, as for `leaves_to_level1_flat`), plus the
        `partials` of other level-1 nodes (from `leaves_to_level1_flat`)."""
        ...

    def id_bitmap(self, ids_be: bytes, first: int, count: int) -> bytes:
        """(count + 7) // 8 bytes with bit id − first (bit k of byte k >> 3) set for each big-endian
        u64 id in `ids_be` that lies in first..first + count − 1."""
        ...

    def ahash_many(self, inputs: Sequence[bytes], nonce: int | None = None) -> list[int]:
        """AHash of each input (‖ LE32(nonce) when given), §2.2."""
        ...

    def fr_quotient_sum(
        self, vectors: bytes, zs: bytes, inv_small: Sequence[int], aprime: Sequence[int], inv_aprime: Sequence[int]
    ) -> list[int]:
        """Prover (§6.5): Σ_z (f_z(X) − f_z(z)) / (X − z) in evaluation form on 0..255, for the
        vectors f_z (`len(zs)` × 256 LE32 scalars < r) at the distinct points `zs`, given 1/d
        (d = 1..255), A'(j) and 1/A'(j)."""
        ...

    def fr_combine(self, vectors: bytes, coefs: Sequence[int]) -> list[int]:
        """Σ_i coefs[i]·f_i mod r over vectors packed as for `fr_quotient_sum`."""
        ...


class PythonBackend:
    """Reference implementation on Python integers."""

    name = "python"

    def commit_deltas(self, olds: Sequence[bytes], deltas: Sequence[Sequence[Delta]]) -> list[bytes]:
        g = generators()
        out = []
        for old, ds in zip(olds, deltas, strict=True):
            acc = bw.from_bytes64(old)
            for idx, s in ds:
                acc = bw.add(acc, bw.mul(g[idx], s))
            out.append(bw.to_bytes64(acc))
        return out

    def commit(self, scalars: Sequence[int]) -> bytes:
        return bw.to_bytes64(bw.msm(generators()[: len(scalars)], scalars))

    def map_to_scalars(self, commitments: Sequence[bytes]) -> list[int]:
        return [bw.map_bytes64_to_scalar(c) for c in commitments]

    def decompress_many(self, compressed: Sequence[bytes]) -> list[bytes]:
        out = []
        for i, c in enumerate(compressed):
            try:
                out.append(bw.to_bytes64(bw.decompress(c)))
            except bw.PointDecodeError as e:
                raise bw.PointDecodeError(f"point {i}: {e}") from e
        return out

    def compress_many(self, commitments: Sequence[bytes]) -> list[bytes]:
        return [bw.compress(bw.from_bytes64(c)) for c in commitments]

    def msm(self, points: Sequence[bytes], scalars: Sequence[int]) -> bytes:
        return bw.to_bytes64(bw.msm([bw.from_bytes64(p) for p in points], scalars))

    def warm(self) -> None:
        """Nothing to precompute."""

    def commit_slot_deltas(
        self, olds: Sequence[bytes], counts: Sequence[int], slots: bytes, changes: Sequence[SlotChange]
    ) -> list[bytes]:
        if len(counts) != len(olds) or sum(counts) != len(changes) or len(slots) != len(changes):
            raise ValueError("commit_slot_deltas: counts, slots and changes do not match")
        deltas, k = [], 0
        for c in counts:
            deltas.append([(slots[j], (kv_hash(changes[j][1]) - kv_hash(changes[j][0])) % bw.R) for j in range(k, k + c)])
            k += c
        return self.commit_deltas(olds, deltas)

    def propagate_main(
        self, ids: Sequence[int], olds: Sequence[bytes], news: Sequence[bytes], anc_olds: Sequence[bytes], top: int = 0
    ) -> tuple[list[bytes], int]:
        if not 0 <= top <= 2:
            raise ValueError(f"propagate_main: top level {top} not in 0..2")
        out: list[bytes] = []
        ecmuls = 0
        level_ids, level_olds, level_news = list(ids), list(olds), list(news)
        for level in range(3, top, -1):
            start, up = STARTING_NODE_ID[level], STARTING_NODE_ID[level - 1]
            parents = sorted({((i - start) >> 8) + up for i in level_ids})
            p_olds = list(anc_olds[len(out) : len(out) + len(parents)])
            if len(p_olds) != len(parents):
                raise ValueError("propagate_main: too few ancestor commitments")
            changed = [(i, o, n) for i, o, n in zip(level_ids, level_olds, level_news, strict=True) if o != n]
            scal = self.map_to_scalars([c for _, o, n in changed for c in (o, n)])
            deltas: dict[int, list[Delta]] = {p: [] for p in parents}
            for j, (i, _, _) in enumerate(changed):
                deltas[((i - start) >> 8) + up].append(((i - start) & 0xFF, (scal[2 * j + 1] - scal[2 * j]) % bw.R))
            p_news = [self.commit_deltas([o], [deltas[p]])[0] if deltas[p] else o for p, o in zip(parents, p_olds)]
            ecmuls += len(changed)
            out += p_news
            level_ids, level_olds, level_news = parents, p_olds, p_news
        if len(out) != len(anc_olds):
            raise ValueError("propagate_main: too many ancestor commitments")
        return out, ecmuls

    def leaves_to_level1(
        self,
        ids: Sequence[int],
        olds: Sequence[bytes],
        counts: Sequence[int],
        slots: bytes,
        changes: Sequence[SlotChange],
        anc_olds: Sequence[bytes],
        background: bool = True,
    ) -> Callable[[], tuple[list[bytes], list[bytes], int]]:
        news = self.commit_slot_deltas(olds, counts, slots, changes)
        anc_news, ec = self.propagate_main(ids, olds, news, anc_olds, top=1)
        return lambda: (news, anc_news, ec)

    def leaves_to_level1_flat(
        self,
        ids: Sequence[int],
        olds: Sequence[bytes],
        counts: Sequence[int],
        slots: bytes,
        changes: Sequence[SlotChange],
        nodes012: bytes,
        background: bool = True,
    ) -> Callable[[], tuple[list[bytes], list[int], list[bytes], bytes, int]]:
        s3, s4 = STARTING_NODE_ID[3], STARTING_NODE_ID[4]
        if any(not s3 <= i < s4 for i in ids) or any(a >= b for a, b in zip(ids, ids[1:])):
            raise ValueError("leaves_to_level1_flat: ids are not ascending level-3 nodes")
        anc = main_ancestors(list(ids), 1)
        anc_olds = [nodes012[64 * a : 64 * a + 64] for a in anc]
        news, anc_news, ec = self.leaves_to_level1(ids, olds, counts, slots, changes, anc_olds)()
        kept = [(a, nw) for a, o, nw in zip(anc, anc_olds, anc_news) if o != nw]
        level1 = [(a, nw) for a, nw in kept if a < STARTING_NODE_ID[2]]
        partial = self._level1_sum(nodes012, _IDENTITY64, [a for a, _ in level1], [nw for _, nw in level1])
        return lambda: (news, [a for a, _ in kept], [nw for _, nw in kept], partial, ec)

    def root_from_level1(
        self, nodes012: bytes, ids: Sequence[int], news: Sequence[bytes], partials: Sequence[bytes] = ()
    ) -> bytes:
        root = bw.from_bytes64(self._level1_sum(nodes012, nodes012[:64], ids, news))
        for p in partials:
            root = bw.add(root, bw.from_bytes64(p))
        return bw.to_bytes64(root)

    def _level1_sum(self, nodes012: bytes, start: bytes, ids: Sequence[int], news: Sequence[bytes]) -> bytes:
        """start + Σ (s(new) − s(old))·G[id − 1] over the level-1 nodes `ids` (ascending), their old
        commitments read from `nodes012`."""
        if any(not 1 <= i < STARTING_NODE_ID[2] for i in ids) or any(a >= b for a, b in zip(ids, ids[1:])):
            raise ValueError("root_from_level1: ids are not ascending level-1 nodes")
        olds = [nodes012[64 * i : 64 * i + 64] for i in ids]
        scal = self.map_to_scalars([c for pair in zip(olds, news, strict=True) for c in pair])
        deltas = [(i - 1, (scal[2 * j + 1] - scal[2 * j]) % bw.R) for j, i in enumerate(ids)]
        return self.commit_deltas([start], [deltas])[0]

    def id_bitmap(self, ids_be: bytes, first: int, count: int) -> bytes:
        if len(ids_be) % 8:
            raise ValueError("id_bitmap: ids must be 8 bytes each")
        out = bytearray((count + 7) // 8)
        for (i,) in iter_unpack(">Q", ids_be):
            if 0 <= i - first < count:
                out[(i - first) >> 3] |= 1 << ((i - first) & 7)
        return bytes(out)

    def ahash_many(self, inputs: Sequence[bytes], nonce: int | None = None) -> list[int]:
        suffix = b"" if nonce is None else nonce.to_bytes(4, "little")
        return [ahash(x + suffix) for x in inputs]

    def fr_quotient_sum(
        self, vectors: bytes, zs: bytes, inv_small: Sequence[int], aprime: Sequence[int], inv_aprime: Sequence[int]
    ) -> list[int]:
        r = bw.R
        g = [0] * 256
        for f, z in zip(_unpack_vectors(vectors, len(zs)), zs, strict=True):
            fz = f[z]
            qs = [(a - fz) * (inv_small[j - z] if j > z else -inv_small[z - j]) if j != z else 0 for j, a in enumerate(f)]
            g = [u + v for u, v in zip(g, qs)]
            g[z] -= aprime[z] * (sum(map(mul, inv_aprime, qs)) % r)
        return [v % r for v in g]

    def fr_combine(self, vectors: bytes, coefs: Sequence[int]) -> list[int]:
        out = [0] * 256
        for f, c in zip(_unpack_vectors(vectors, len(coefs)), coefs, strict=True):
            out = [u + c * a for u, a in zip(out, f)]
        return [v % bw.R for v in out]


def _unpack_vectors(packed: bytes, n: int) -> list[list[int]]:
    """n vectors of 256 LE32 scalars."""
    if len(packed) != n * 256 * 32:
        raise ValueError(f"expected {n} packed 256-scalar vectors, got {len(packed)} bytes")
    fb = int.from_bytes
    return [[fb(packed[o : o + 32], "little") for o in range(v, v + 256 * 32, 32)] for v in range(0, len(packed), 256 * 32)]


@cache
def backend() -> Backend:
    """The fastest available backend: C unless it cannot build (then the reference, with a warning).

    `MEGAETH_SALT_BACKEND=python` forces the reference; `=native` forces C (errors propagate).
    """
    choice = os.environ.get("MEGAETH_SALT_BACKEND", "").lower()
    if choice == "python":
        return PythonBackend()
    try:
        from salt.native import NativeBackend

        return NativeBackend()
    except Exception as e:  # NativeBuildError, missing cffi, dlopen failure
        if choice == "native":
            raise
        logging.getLogger(__name__).warning(
            "SALT C backend unavailable, using the slow pure-Python reference: %s", e
        )
        return PythonBackend()
