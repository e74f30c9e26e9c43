"""LMDB store + overlay, witness-backed view, and real-data checks (spec/salt.md §5, §7, §8.5)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import salt.store as store_module
from salt.shi import StateUpdates
from salt.store import SaltStore, WitnessMissingKey, WitnessState
from salt.trie import EMPTY_ROOT, update_trie
from salt.types import encode_account, storage_key
from salt.witness import decode_witness_file


def test_overlay_commit_and_discard(tmp_path: Path) -> None:
    store = SaltStore.open(tmp_path / "db")
    addr = bytes(range(20))
    items = {addr: encode_account(1, 5), storage_key(addr, 7): (9).to_bytes(32, "big")}
    ov = store.overlay()
    root = ov.apply(items)
    assert root != EMPTY_ROOT and ov.plain_value(addr) == items[addr]
    ov.discard()
    assert store.root() == EMPTY_ROOT
    ov = store.overlay()
    assert ov.apply(items) == root
    ov.commit()
    assert store.root() == root
    ov = store.overlay()
    assert ov.plain_value(storage_key(addr, 7)) == (9).to_bytes(32, "big")
    assert ov.apply({addr: None, storage_key(addr, 7): None}) == EMPTY_ROOT
    ov.commit()
    assert store.root() == EMPTY_ROOT
    with store.env.begin() as txn:  # deleting everything leaves no slots or nodes behind
        assert txn.stat(store.kv_db)["entries"] == 0 and txn.stat(store.nodes_db)["entries"] == 0
    store.close()


def witness_files(testdata: Path) -> list[Path]:
    files = sorted((testdata / "stateless" / "witness").glob("*.salt"), key=lambda p: int(p.name.split(".")[0]))
    assert len(files) >= 2
    return files


@pytest.fixture(scope="module")
def witnesses(testdata: Path) -> list[tuple[int, WitnessState]]:
    return [(int(f.name.split(".")[0]), WitnessState(decode_witness_file(f.read_bytes()).salt_witness))
            for f in witness_files(testdata)]


def test_witness_pre_roots(testdata: Path, witnesses: list[tuple[int, WitnessState]]) -> None:
    roots = {}
    for f in (testdata / "blocks").glob("*.json"):
        roots[int(f.name.split(".")[0])] = bytes.fromhex(json.loads(f.read_text())["stateRoot"][2:])
    checked = 0
    for n, w in witnesses:
        if n - 1 in roots:
            assert w.pre_root() == roots[n - 1]
            checked += 1
    assert checked >= 10


def test_delta_rule_across_consecutive_witnesses(witnesses: list[tuple[int, WitnessState]]) -> None:
    """§8.5: witness N's bucket commitments + the slot changes visible in N and N+1 give N+1's."""
    total = changed = 0
    for (_, a), (_, b) in zip(witnesses, witnesses[1:]):
        ups = StateUpdates({k: (a.kvs[k], b.kvs[k]) for k in a.kvs.keys() & b.kvs.keys() if a.kvs[k] != b.kvs[k]})
        res = update_trie(a, ups, a.capacity)
        for n in a.commitments.keys() & b.commitments.keys():
            if 65793 <= n < 16843009 and a.levels.get(n - 65793, 1) == 1:
                total += 1
                changed += n in res.nodes
                got = res.nodes[n] if n in res.nodes else a.commitments[n]
                assert got == b.commitments[n], f"bucket {n - 65793}"
    assert total > 2000 and changed > 1000


def test_witness_view_never_treats_missing_as_empty(witnesses: list[tuple[int, WitnessState]]) -> None:
    _, w = witnesses[0]
    missing = next(k for k in range(70000 << 40, (70000 << 40) + 300) if k not in w.kvs)
    with pytest.raises(WitnessMissingKey):
        w.slot_value(missing)
    with pytest.raises(WitnessMissingKey):
        w.node(12345678)
    rng = random.Random(1)
    with pytest.raises(WitnessMissingKey):
        w.apply({rng.randbytes(20): b"\x00" * 40})  # an insert the witness never proved


def test_witness_in_place_update_changes_root(testdata: Path) -> None:
    """In-place value update of a witnessed key: stateless root == delta rule over the witness."""
    wf = decode_witness_file(witness_files(testdata)[0].read_bytes()).salt_witness
    w = WitnessState(wf)
    key, sv = next((k, v) for k, v in w.kvs.items() if v is not None and k >> 40 >= 65536 and len(v.key) == 20)
    pre = w.pre_root()
    root, ups = w.apply({sv.key: b"\x00" * 8 + (10**18).to_bytes(32, "big")})
    assert list(ups.data) == [key] and root != pre and w.pre_root() == root
    w2 = WitnessState(wf)
    assert update_trie(w2, ups, w2.capacity).root == root
    root_back, _ = w.apply({sv.key: sv.value})
    assert root_back == pre


def _colliding_keys(rng: random.Random, n: int) -> list[tuple[bytes, bytes]]:
    """Pairs of distinct 52-byte plain keys in the same bucket (birthday search over `n` keys)."""
    from salt.pedersen import backend

    keys = [rng.randbytes(52) for _ in range(n)]
    seen: dict[int, bytes] = {}
    pairs = []
    for k, h in zip(keys, backend().ahash_many(keys), strict=True):
        b = h % ((1 << 24) - (1 << 16))  # bucket id minus NUM_META_BUCKETS
        if b in seen:
            pairs.append((seen.pop(b), k))
        else:
            seen[b] = k
    return pairs


def test_store_witness_roundtrip_and_stateless_apply(tmp_path: Path) -> None:
    """`witness(keys)` of a committed state: encode/decode, verifies against the store root, and the
    witness view applies the same updates to the same post-state root as the full store (§6, §7)."""
    from salt.multiproof import verify_witness
    from salt.witness import decode_salt_witness, encode_salt_witness

    rng = random.Random(11)
    pairs = _colliding_keys(rng, 12_000)
    assert len(pairs) >= 4
    store = SaltStore.open(tmp_path / "db")
    base = {rng.randbytes(52): rng.randbytes(32) for _ in range(300)}
    base.update({a: rng.randbytes(32) for a, _ in pairs[:2]})  # buckets with one stored key
    base.update({rng.randbytes(20): encode_account(rng.randrange(9), rng.randrange(1 << 64)) for _ in range(30)})
    ov = store.overlay()
    ov.apply(base)
    ov.commit()
    root = store.root()

    old = list(base)
    updates: dict[bytes, bytes | None] = {k: rng.randbytes(32) for k in old[:20]}
    updates.update({k: None for k in old[20:30]})
    updates.update({b: rng.randbytes(32) for _, b in pairs[:2]})  # insert next to a stored key
    updates.update({k: rng.randbytes(32) for pair in pairs[2:4] for k in pair})  # two inserts, one bucket
    updates.update({rng.randbytes(52): rng.randbytes(32) for _ in range(20)})
    updates[rng.randbytes(52)] = None  # delete of an absent key

    w = store.witness(updates)
    assert store.root() == root
    assert decode_salt_witness(encode_salt_witness(w)) == w
    verify_witness(decode_salt_witness(encode_salt_witness(w)), root)

    ov = store.overlay()
    full_root = ov.apply(updates)
    assert ov.witness(updates) == w  # the committed state, whatever the overlay applied
    ov.discard()
    ws = WitnessState(decode_salt_witness(encode_salt_witness(w)))
    assert ws.pre_root() == root
    assert ws.apply(updates)[0] == full_root


def test_store_witness_of_untouched_state(tmp_path: Path) -> None:
    """Non-existence witness in an empty store: probe slots are proven empty, metadata default."""
    from salt.multiproof import verify_witness

    store = SaltStore.open(tmp_path / "db")
    keys = [bytes([i]) * 20 for i in range(3)]
    w = store.witness(keys)
    verify_witness(w, EMPTY_ROOT)
    assert sum(v is None for v in w.kvs.values()) == 3
    ws = WitnessState(w)
    ov = store.overlay()
    assert ws.apply({k: b"\x01" * 32 for k in keys})[0] == ov.apply({k: b"\x01" * 32 for k in keys})


def test_witness_reader_builds_no_flat_levels_or_occupancy(tmp_path: Path) -> None:
    """A store that only makes witnesses (the sealer's) reads levels 0–2 but never builds the 4 MB level
    0–2 buffer or scans every stored node for the bucket occupancy: an apply builds them on first use."""
    store = SaltStore.open(tmp_path / "db")
    ov = store.overlay()
    ov.apply({bytes([i]) * 20: b"\x01" * 32 for i in range(50)})
    ov.commit()
    fresh = SaltStore(store.env)  # as the sealer's process opens it: no cache carried over from commits
    fresh.witness([bytes([i]) * 20 for i in range(5)])
    cache = fresh._node_cache
    assert cache is not None and cache._flat is None and cache._occupied is store_module._UNSCANNED
    ov = fresh.overlay()
    ov.apply({bytes([i]) * 20: b"\x02" * 32 for i in range(50)})
    assert cache._flat is not None and cache._occupied is not store_module._UNSCANNED
    ov.discard()


def test_stored_metadata_preloaded_or_read_per_bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-default bucket metadata reads the same whether the overlay preloads all of it or not."""
    import salt.store as store_mod
    from salt.types import BucketMeta

    store = SaltStore.open(tmp_path / "db")
    key = bytes(range(20))
    ov = store.overlay()
    ov.apply({key: encode_account(1, 1)})
    bucket = ov.shi.bucket(key)
    root = ov.apply_state_updates(ov.shi.set_nonce(bucket, 7))
    ov.commit()
    assert store.root() == root
    for limit in (4096, 0):
        monkeypatch.setattr(store_mod, "_META_PRELOAD", limit)
        ov = store.overlay()
        assert ov.shi.meta(bucket) == BucketMeta(7, 256) and ov.shi.meta(bucket + 1) == BucketMeta()
        assert ov.plain_value(key) == encode_account(1, 1)
        ov.discard()


def test_store_witness_of_expanded_bucket(tmp_path: Path) -> None:
    """A bucket resized to 512 slots (a two-level subtree): its witness carries levels 2, the bridge
    and segment commitments, verifies, and applies like the full store (§5.2, §6.2)."""
    from salt.multiproof import verify_witness

    store = SaltStore.open(tmp_path / "db")
    key, other = bytes(range(20)), bytes(range(1, 21))
    ov = store.overlay()
    ov.apply({key: encode_account(1, 1), other: encode_account(2, 2)})
    bucket = ov.shi.bucket(key)
    ups = StateUpdates()
    ov.shi.rehash(bucket, 3, 512, ups)
    ov.shi.rehashed.clear()  # keep the expansion (no canonicalize back to 256 slots)
    root = ov.apply_state_updates(ups)
    ov.commit()
    assert store.root() == root
    touched = {key: encode_account(1, 9), other: None, bytes(20): encode_account(0, 5)}
    w = store.witness(touched)
    assert w.proof.levels[bucket] == 2
    verify_witness(w, root)
    ov = store.overlay()
    assert WitnessState(w).apply(touched)[0] == ov.apply(touched)


@pytest.mark.parametrize(("delta_max", "occupied_max"), [(4096, 1 << 22), (0, 1 << 22), (4096, -1)])
def test_node_cache_follows_commits_and_aborted_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delta_max: int, occupied_max: int
) -> None:
    """Main-trie levels 0–2 and the bucket occupancy are cached across overlays (keyed by the root):
    roots match a store that starts every block with an empty cache, through commits (changes layered
    or folded in), an aborted commit followed by another writer's commit, discards, and overlays of an
    older snapshot; with and without the occupancy bitmap."""
    monkeypatch.setattr(store_module, "_NODE_DELTA_MAX", delta_max)
    monkeypatch.setattr(store_module, "_OCCUPIED_MAX", occupied_max)
    rng = random.Random(11)
    store = SaltStore.open(tmp_path / "cached")
    plain = SaltStore.open(tmp_path / "plain")
    keys = [rng.randbytes(52) for _ in range(300)]

    def block() -> dict[bytes, bytes | None]:
        return {k: (None if rng.random() < 0.2 else rng.randbytes(32)) for k in rng.sample(keys, 60)}

    def fresh_root(items: dict[bytes, bytes | None]) -> bytes:
        plain._node_cache = None  # no cache: every node read from LMDB
        ov = plain.overlay()
        root = ov.apply(items)
        ov.commit()
        return root

    old_snapshot = reference = None
    for i in range(8):
        items = block()
        ov = store.overlay()
        root = ov.apply(items)
        assert root == fresh_root(items)
        if i == 3:  # the write is aborted; another writer of the same tables commits a different block
            with pytest.raises(RuntimeError):
                with store.env.begin(write=True) as txn:
                    ov.commit(txn)
                    raise RuntimeError("abort")
            plain_ov = plain.overlay()  # undo the block on the uncached store
            plain_ov.apply({k: _value(store, k) for k in items})
            plain_ov.commit()
            other_items = block()
            other = SaltStore(store.env).overlay()
            assert other.apply(other_items) == fresh_root(other_items)
            other.commit()
            assert store.root() == plain.root()
            continue
        if i == 5:
            ov.discard()
            plain_ov = plain.overlay()
            plain_ov.apply({k: _value(store, k) for k in items})
            plain_ov.commit()
            continue
        if i == 6:  # two readers of the pre-commit state, used after the commit below
            old_snapshot, reference = store.overlay(), store.overlay()
            reference._reader.node_cache = None
        ov.commit()
        assert store.root() == root == plain.root()
        after = store.overlay()  # the cache updated from the commit == one read from the new state
        cache = store._node_cache
        assert cache is not None
        # patched from the predecessor's (built by the block's apply), not read again
        assert cache._occupied is not store_module._UNSCANNED and cache._flat is not None
        occupied = cache.occupied(after._txn, store.nodes_db)
        assert (occupied is None) == (occupied_max < 0)
        assert occupied == store_module._scan_occupied(after._txn, store.nodes_db, after.be)
        assert occupied_max < 0 or any(occupied)  # type: ignore[arg-type]
        stored = {**cache.base, **cache.delta}
        assert cache.flat() == store_module._patched(store_module._default_flat(), stored)
        after.discard()
    assert old_snapshot is not None and reference is not None
    items = block()
    assert old_snapshot.apply(items) == reference.apply(items)
    ov = store.overlay()
    assert ov.apply(items) == fresh_root(items)
    store.close()
    plain.close()


def _value(store: SaltStore, key: bytes) -> bytes | None:
    ov = store.overlay()
    try:
        return ov.plain_value(key)
    finally:
        ov.discard()


def test_apply_pauses_cyclic_gc_and_restores_it(tmp_path: Path) -> None:
    import gc

    store = SaltStore.open(tmp_path / "db")
    seen = []
    ov = store.overlay()
    real = ov.shi.prepare

    def spy(keys, **kw):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(keys, **kw)

    ov.shi.prepare = spy  # type: ignore[method-assign]
    assert gc.isenabled()
    ov.apply({b"k" * 20: b"v"})
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        ov.apply({b"k" * 20: None})
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
    with pytest.raises(TypeError):
        ov.apply({b"k" * 20: 5})  # type: ignore[dict-item]
    assert gc.isenabled()
    ov.discard()
    store.close()


def test_python_and_c_backends_agree_through_commits(tmp_path: Path) -> None:
    """Blocks applied and committed with the pure-Python backend (Python SHI, reference level 0–2 jobs)
    and with the C one (C SHI, C jobs reading the node cache's level 0–2 buffer and occupancy): same
    roots, changed nodes and EC multiplication counts, block after block."""
    native = pytest.importorskip("salt.native")
    from salt.pedersen import PythonBackend

    rng = random.Random(3)
    py_store, c_store = SaltStore.open(tmp_path / "py"), SaltStore.open(tmp_path / "c")
    keys = [rng.randbytes(52) for _ in range(120)]
    for _ in range(3):
        items = {k: (None if rng.random() < 0.2 else rng.randbytes(32)) for k in rng.sample(keys, 40)}
        py_ov, c_ov = py_store.overlay(PythonBackend()), c_store.overlay(native.NativeBackend())
        assert py_ov.apply(items) == c_ov.apply(items)
        assert py_ov.last is not None and c_ov.last is not None
        assert (py_ov.last.nodes, py_ov.last.ecmuls) == (c_ov.last.nodes, c_ov.last.ecmuls)
        py_ov.commit()
        c_ov.commit()
    py_store.close()
    c_store.close()
