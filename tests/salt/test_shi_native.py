"""The C SHI path of flat buckets (`NativeBackend.shi_flat`, spec/salt.md §2.3) against the Python
reference (`ShiState.update_prepared`): same slot changes and usage, resizes left to Python; and
`StateOverlay.apply` with and without it gives the same roots, nodes, updates and EC counts."""

from __future__ import annotations

import random
from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salt.constants import BUCKET_SLOT_BITS
from salt.pedersen import backend
from salt.shi import ShiState
from salt.store import SaltStore
from salt.types import BucketMeta, SaltValue, metadata_key

from .test_shi import MemSlots

native = backend()

BUCKETS = (131072, 131073, 131329)


def _key(rng: random.Random) -> bytes:
    """Short keys over a small alphabet: many share prefixes or differ only in length."""
    prefix = bytes(rng.choice(b"\x00\x01\xff") for _ in range(rng.randrange(1, 5)))
    return prefix + rng.randbytes(rng.choice((0, 2, 20)))


def _state(rng: random.Random, crowd: int) -> tuple[MemSlots, dict[int, list[bytes]]]:
    """Committed flat buckets of BUCKETS (some with a nonce) filled through the Python SHI."""
    store = MemSlots()
    for b in BUCKETS:
        if rng.random() < 0.4:
            store.slots[metadata_key(b)] = BucketMeta(rng.randrange(1, 1 << 32), 256).to_value()
    shi = ShiState(store)
    keys: dict[int, list[bytes]] = {}
    for b in BUCKETS:
        ks = list({_key(rng) for _ in range(rng.randrange(crowd))})
        keys[b] = ks
        shi.update_prepared([(b, k, rng.randbytes(rng.randrange(0, 40))) for k in ks])
    store.slots.update({k: v for k, v in shi.cache.items() if v is not None})
    return store, keys


def _ops(rng: random.Random, keys: dict[int, list[bytes]], n: int) -> list[tuple[int, bytes, bytes | None]]:
    ops = []
    for _ in range(n):
        b = rng.choice(BUCKETS)
        r = rng.random()
        k = rng.choice(keys[b]) if keys[b] and r < 0.6 else _key(rng)
        v = None if r < 0.25 or 0.9 < r else rng.randbytes(rng.randrange(0, 40))
        ops.append((b, k, v))
    ops.sort(key=lambda op: op[0])  # grouped by bucket, batch order within one (stable)
    return ops


def _shi_flat(store: MemSlots, ops: list[tuple[int, bytes, bytes | None]]) -> tuple[dict, dict] | None:
    """(SaltKey → (old, new), bucket → usage change) from the C path, None when it defers to Python."""
    buckets = sorted({b for b, _, _ in ops})
    entry_off, slots, entries = array("I", [0]), bytearray(), []
    for b in buckets:
        for k in sorted(k for k in store.slots if k >> BUCKET_SLOT_BITS == b):
            slots.append(k & 0xFF)
            entries.append(store.slots[k].to_bytes())
        entry_off.append(len(entries))
    nonces = [store.bucket_meta(b).nonce for b in buckets]
    packed = native.pack_ops([k for _, k, _ in ops], [v for _, _, v in ops], [b for b, _, _ in ops])
    res = native.shi_flat(buckets, nonces, entry_off, bytes(slots), entries, packed, range(len(ops)))
    if res is None:
        return None
    counts, deltas, keys, olds, news, (data, lens) = res
    n_ops = len(ops)

    def content(ref: int) -> SaltValue | None:
        if ref < 0:
            return None
        if ref < n_ops:
            return SaltValue(ops[ref][1], ops[ref][2])  # type: ignore[arg-type]
        return SaltValue.from_bytes(entries[ref - n_ops])

    changes = {k: (content(o), content(nw)) for k, o, nw in zip(keys, olds, news, strict=True)}
    assert list(keys) == sorted(keys) and sum(counts) == len(keys)
    flat = [v for k in keys for v in changes[k]]  # the packed leaf input matches the changes
    assert list(lens) == [0xFFFFFFFF if v is None else len(v.key) + len(v.value) for v in flat]
    assert data == (b"".join(v.key + v.value for v in flat if v is not None) or b"\0")
    return changes, {b: d for b, d in zip(buckets, deltas, strict=True) if d}


@settings(max_examples=400, deadline=None)
@given(seed=st.integers(0, 2**32), crowd=st.sampled_from([3, 60, 200]), n=st.integers(1, 120))
def test_shi_flat_equals_python(seed: int, crowd: int, n: int) -> None:
    rng = random.Random(seed)
    store, keys = _state(rng, crowd)
    ops = _ops(rng, keys, n)
    shi = ShiState(store)
    ups = shi.update_prepared(ops)
    got = _shi_flat(store, ops)
    if got is None:  # deferred: only when the Python path resizes a bucket
        assert shi.rehashed
        return
    assert not shi.rehashed
    assert got[0] == ups.data
    assert got[1] == {b: d for b, d in shi.usage_delta.items() if d}


def test_shi_flat_defers_resize_and_long_values() -> None:
    rng = random.Random(1)
    store, keys = _state(rng, 3)
    b = BUCKETS[0]
    assert _shi_flat(store, [(b, rng.randbytes(20), b"\x01") for _ in range(205)]) is None  # > 80 % of 256
    assert _shi_flat(store, [(b, b"k", b"\x01" * 256)]) is None
    assert _shi_flat(store, [(b, b"k", b"\x01" * 20)]) is not None


class _NoFlat:
    """The same backend without the C SHI path (Python SHI for every bucket)."""

    def __init__(self, be: object) -> None:
        self._be = be

    def __getattr__(self, name: str) -> object:
        if name == "shi_flat":
            raise AttributeError(name)
        return getattr(self._be, name)


def test_apply_with_and_without_c_shi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks with crowded buckets (displacements, backward shifts), a resize, nonces and deletes:
    the C path gives the root, nodes, updates, cache and EC count of the Python path."""
    import salt.store as store_module

    monkeypatch.setattr(store_module, "_GROUP_KEYS", 40)
    calls: list[bool] = []
    real = native.shi_flat

    def counting(*args: object) -> object:
        res = real(*args)
        calls.append(res is not None)
        return res

    monkeypatch.setattr(native, "shi_flat", counting, raising=False)
    rng = random.Random(9)
    store = SaltStore.open(tmp_path / "db")
    one = BUCKETS[0]
    crowd = sorted({rng.randbytes(20) for _ in range(300)})
    spread = [rng.randbytes(52) for _ in range(600)]
    blocks = [
        [(k, rng.randbytes(32)) for k in spread + crowd[:150]],
        [(k, rng.randbytes(32)) for k in crowd[:100:3]] + [(k, None) for k in crowd[1:100:3]]
        + [(k, None) for k in spread[:100]] + [(rng.randbytes(52), b"\x03") for _ in range(300)],
        [(k, b"\x01" * 40) for k in crowd[150:260]] + [(k, rng.randbytes(32)) for k in spread[100:300]],
        [(k, None) for k in crowd[:40]] + [(k, None) for k in spread[300:500]],
    ]
    seen: list[bool] = []
    for items in blocks:
        ovs = [store.overlay(native), store.overlay(_NoFlat(native))]  # type: ignore[arg-type]
        for ov in ovs:
            ov.shi.bucket_of = lambda k, r=ov.shi.bucket_of: one if k in crowd else r(k)  # type: ignore[misc]
        calls.clear()
        roots = [ov.apply(items) for ov in ovs]
        assert roots[0] == roots[1]
        assert calls and any(calls)
        seen += calls
        a, b = ovs[0].last, ovs[1].last
        assert a is not None and b is not None
        assert (a.nodes, a.ecmuls, ovs[0].updates) == (b.nodes, b.ecmuls, ovs[1].updates)
        assert all(ovs[1].shi.cache.get(k, ...) == v for k, v in ovs[0].shi.cache.items())
        assert {k: d for k, d in ovs[0].shi.usage_delta.items() if d} == {
            k: d for k, d in ovs[1].shi.usage_delta.items() if d}
        for k, v in rng.sample(items, 50):
            assert ovs[0].plain_value(k) == ovs[1].plain_value(k) == v
        ovs[1].discard()
        ovs[0].commit()
    assert not all(seen)  # the resizing group went through the Python path
    ov = store.overlay()
    assert ov.shi.meta(one).capacity == 512  # the third block resized it (through the Python path)
    ov.discard()
    store.close()
