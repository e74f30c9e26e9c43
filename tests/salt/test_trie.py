"""Commitments and the state-root update (spec/salt.md §4.4, §5): defaults, delta rule vs rebuild."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salt.constants import BUCKET_SLOT_BITS
from salt.pedersen import backend
from salt.store import SaltStore
from salt.trie import (
    EMPTY_ROOT,
    MAIN_DEFAULTS,
    SUBTREE_DEFAULTS,
    compute_default_commitments,
    default_commitment,
    rebuild_root,
    root_hash,
)
from salt.types import BucketMeta, SaltValue, bucket_of_metadata_key, is_meta_key

H = bytes.fromhex
DEFAULTS = {  # §4.4, all 12 (main level 0..3 meta/data, subtree level 0..4)
    "root": H("a2f11cbb573b3beba869c4417fd616e550f66feea3edcf6b8979bee66dd18767d744099c52a92477cb2e005ca3665892ce7860ccaf476aa224528837e5732270"),
    "l1m": H("b744bfb480faaaaecfb534e10ce111489c89cc43ab90a380ef5eb0f8668b731049cd9f4222b06ca3e41d624b573b83e67a9f251ae7f4e26cd496fd4005fc8c72"),
    "l1d": H("866b0fd149ea8e233d295dff7b91af9ac54e82e3083a979e068fe9f5a8747832f59ed53dfd1e939bdcbf9e1bbc87752c8fe8537c662f537ebfde227ce7845659"),
    "l2m": H("9ed527e0e507e93c05d5a77184211e6bbf6e1820fdc7cd36387c4d52f8b931182f47ece1ebb6dad09b8b96062bc5241b143e03f36e69ffb83b0ef8d99f818772"),
    "l2d": H("1d8d81bcb60ff180ff99c497a8298af38d71d2fbf3c0ffda09b659839e3732612771a485191ab8fe740dc20d1a33c53f8cfbb1c07676d74050de914c0efc7f54"),
    "l3m": H("e07db25c34ee2ddb23992be6e8c3a9fc0c3b3c23effd4089cb262524ce64671abc3da78e1f67a926db11faa1385ca8d35aee7905cff1251536c75b73f60ed16b"),
    "l3d": H("da260863cc36b265d34f9912c3b98ae7e046ced37bf5eebe1be164695093714efc9e5b23b9ab87c9f7b51e4fec4ea377e4fe44672d70752f7c3522e0f0269555"),
    "s0": H("a7bba7dcf3ad2fbb9fd792f875adad094bb67119f2e83fd751299d9195d7301cfece2bfd0cbc9ce1150cd3a653377c9a038af061a0d8ebe4de54143ffe3cb172"),
    "s1": H("db1c8437754289cd759fa15c051b03950c135a8b67176946020087cdd86f0c2f660ba555b18020f3941854a87060bcf92b39312a63dcd21fc9b629ee6b0ca570"),
    "s2": H("866b0fd149ea8e233d295dff7b91af9ac54e82e3083a979e068fe9f5a8747832f59ed53dfd1e939bdcbf9e1bbc87752c8fe8537c662f537ebfde227ce7845659"),
    "s3": H("1d8d81bcb60ff180ff99c497a8298af38d71d2fbf3c0ffda09b659839e3732612771a485191ab8fe740dc20d1a33c53f8cfbb1c07676d74050de914c0efc7f54"),
    "s4": H("da260863cc36b265d34f9912c3b98ae7e046ced37bf5eebe1be164695093714efc9e5b23b9ab87c9f7b51e4fec4ea377e4fe44672d70752f7c3522e0f0269555"),
}
ONE_BUCKET = 131072


def test_default_commitments_from_scratch() -> None:
    main, sub = compute_default_commitments()
    d = DEFAULTS
    assert main == [d["root"], d["l1m"], d["l1d"], d["l2m"], d["l2d"], d["l3m"], d["l3d"]]
    assert sub == [d["s0"], d["s1"], d["s2"], d["s3"], d["s4"]]
    assert [m[1:] for m in MAIN_DEFAULTS] == [
        (d["root"], d["root"]), (d["l1m"], d["l1d"]), (d["l2m"], d["l2d"]), (d["l3m"], d["l3d"])]
    assert list(SUBTREE_DEFAULTS) == sub
    assert root_hash(d["root"]) == EMPTY_ROOT
    assert EMPTY_ROOT.hex() == "9d7218471640948ac51ad7ea7f589af28c19605bd96faaaf1204b5da36a09201"


def test_default_commitment_by_node_id() -> None:
    d = DEFAULTS
    assert default_commitment(1) == d["l1m"] and default_commitment(2) == d["l1d"]
    assert default_commitment(512) == d["l2m"] and default_commitment(513) == d["l2d"]
    assert default_commitment(65793 + 65535) == d["l3m"] and default_commitment(65793 + 65536) == d["l3d"]
    assert default_commitment(ONE_BUCKET << BUCKET_SLOT_BITS | 1) == d["s1"]


def committed(store: SaltStore) -> tuple[dict[int, SaltValue], dict[int, int], dict[int, bytes]]:
    """All stored slots, data-bucket capacities and node commitments."""
    entries, caps, nodes = {}, {}, {}
    with store.env.begin() as txn:
        for k, v in txn.cursor(db=store.kv_db):
            key = int.from_bytes(k, "big")
            entries[key] = SaltValue.from_bytes(v)
            if is_meta_key(key):
                caps[bucket_of_metadata_key(key)] = BucketMeta.from_value(entries[key]).capacity
        for k, v in txn.cursor(db=store.nodes_db):
            nodes[int.from_bytes(k, "big")] = bytes(v)
    return entries, caps, nodes


def apply_batch(store: SaltStore, items: list[tuple[bytes, bytes | None]], same_bucket: set[bytes]) -> bytes:
    """One block through the overlay; keys in `same_bucket` all land in bucket 131072."""
    ov = store.overlay()
    real = ov.shi.bucket_of
    ov.shi.bucket_of = lambda k: ONE_BUCKET if k in same_bucket else real(k)
    root = ov.apply_state_updates(ov.shi.update_fin(items))
    ov.commit()
    return root


def check_against_rebuild(store: SaltStore, root: bytes) -> None:
    entries, caps, nodes = committed(store)
    want_root, want_nodes = rebuild_root(entries, caps)
    assert root == want_root == store.root()
    main = {n: c for n, c in want_nodes.items() if n < 16843009}
    assert {n: c for n, c in nodes.items() if n < 16843009} == main
    for n, c in want_nodes.items():  # subtree nodes below the top are stored, defaults absent
        if n >= 1 << BUCKET_SLOT_BITS:
            assert nodes.get(n, default_commitment(n)) == c


def test_delta_update_equals_rebuild_with_expansion(tmp_path: Path) -> None:
    rng = random.Random(3)
    store = SaltStore.open(tmp_path / "db")
    crowd = {rng.randbytes(20) for _ in range(300)}
    spread = [rng.randbytes(52) for _ in range(200)]
    crowd_list = sorted(crowd)
    # block 1: scattered keys + 150 keys in one bucket
    root = apply_batch(store, [(k, rng.randbytes(32)) for k in spread + crowd_list[:150]], crowd)
    check_against_rebuild(store, root)
    # block 2: grow the crowded bucket past 80 % (256 → 512: subtree), update + delete elsewhere
    items = [(k, b"\x01" * 40) for k in crowd_list[150:260]]
    items += [(k, None) for k in spread[:50]] + [(k, b"\x02" * 32) for k in spread[50:100]]
    root = apply_batch(store, items, crowd)
    assert committed(store)[1] == {ONE_BUCKET: 512}
    check_against_rebuild(store, root)
    # block 3: changes inside the expanded bucket (deletes shift entries across segments)
    items = [(k, None) for k in crowd_list[:40]] + [(k, b"\x03" * 40) for k in crowd_list[40:80]]
    root = apply_batch(store, items, crowd)
    check_against_rebuild(store, root)
    store.close()


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(150, 240))
def test_root_history_independence(tmp_path_factory: object, seed: int, n: int) -> None:
    """Same final key set via different insert/update/delete orders and batchings → same root.

    (Capacity only grows across blocks, so the first of two blocks stays below the resize threshold.)
    """
    rng = random.Random(seed)
    keys = [rng.randbytes(20) for _ in range(n)]
    crowd = set(keys[: n - 20])
    final = {k: rng.randbytes(8) for k in keys if rng.random() < 0.85}
    roots = set()
    for variant in range(2):
        r = random.Random(seed + variant)
        store = SaltStore.open(tmp_path_factory.mktemp("db"))  # type: ignore[attr-defined]
        ops = [(k, b"old") for k in keys]
        r.shuffle(ops)
        half = r.randrange(200) if variant else 0
        apply_batch(store, ops[:half], crowd)
        rest = ops[half:] + [(k, None) for k in keys if k not in final] + list(final.items())
        roots.add(apply_batch(store, rest, crowd))
        entries, caps, _ = committed(store)
        assert rebuild_root(entries, caps)[0] in roots
        store.close()
    assert len(roots) == 1


def test_pipelined_apply_equals_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`StateOverlay.apply` in level-1 groups (curve work on the worker thread, a resizing group last)
    gives the root, nodes, updates and EC count of one SHI pass and one trie update (§2.3, §5)."""
    import salt.store as store_module

    monkeypatch.setattr(store_module, "_GROUP_KEYS", 40)
    rng = random.Random(5)
    store = SaltStore.open(tmp_path / "db")
    crowd = sorted({rng.randbytes(20) for _ in range(300)})
    spread = [rng.randbytes(52) for _ in range(600)]
    blocks = [
        [(k, rng.randbytes(32)) for k in spread + crowd[:150]],
        [(k, b"\x01" * 40) for k in crowd[150:260]] + [(k, None) for k in spread[:100]]
        + [(k, b"\x02" * 32) for k in spread[100:200]] + [(rng.randbytes(52), b"\x03") for _ in range(300)],
        [(k, None) for k in crowd[:40]] + [(k, None) for k in spread[200:500]],
    ]
    for items in blocks:
        ovs = []
        for _ in range(2):
            ov = store.overlay()
            real = ov.shi.bucket_of
            ov.shi.bucket_of = lambda k, real=real: ONE_BUCKET if k in crowd else real(k)  # type: ignore[misc]
            ovs.append(ov)
        root = ovs[0].apply(items)
        assert root == ovs[1].apply_state_updates(ovs[1].shi.update_fin(sorted(items)))
        a, b = ovs[0].last, ovs[1].last
        assert a is not None and b is not None
        assert (a.nodes, a.ecmuls, ovs[0].updates) == (b.nodes, b.ecmuls, ovs[1].updates)
        ovs[1].discard()
        ovs[0].commit()
        check_against_rebuild(store, root)
    assert committed(store)[1] == {ONE_BUCKET: 512}
    store.close()


def test_uses_backend_batch_api() -> None:
    assert hasattr(backend(), "commit_deltas")
