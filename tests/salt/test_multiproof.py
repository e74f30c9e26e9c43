"""Proof shape, witness verification on the real data, and the prover on synthetic states
(spec/salt.md §6.2, §6.4, §6.5, §8 recipes 2 and 4)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from salt.banderwagon import R
from salt.constants import STARTING_NODE_ID
from salt.multiproof import (
    WitnessVerifyError,
    connect_id,
    create_proof,
    leaf_start_key,
    logic_id,
    proof_shape,
    verify_proof,
    verify_witness,
    witness_root,
)
from salt.pedersen import backend
from salt.types import (
    DEFAULT_META_VALUE,
    EMPTY_SLOT_SCALAR,
    SaltValue,
    bucket_root_node,
    child_node,
    kv_hash,
    node_level,
    parent_node,
    subtree_leaf_for_key,
    vc_position,
)
from salt.witness import SaltWitness, decode_salt_witness, decode_witness_file, encode_salt_witness

EMPTY_ROOT = "9d7218471640948ac51ad7ea7f589af28c19605bd96faaaf1204b5da36a09201"  # spec §4.4


def real_witnesses(testdata: Path) -> list[tuple[int, SaltWitness, bytes]]:
    """(block number, witness, stateRoot of the parent block) for every `.salt` file."""
    out = []
    for path in sorted((testdata / "stateless" / "witness").glob("*.salt")):
        number = int(path.name.split(".")[0])
        (block,) = (testdata / "blocks").glob(f"{number - 1}.*.json")
        root = bytes.fromhex(json.loads(block.read_text())["stateRoot"][2:])
        out.append((number, decode_witness_file(path.read_bytes()).salt_witness, root))
    assert out
    return out


# ---- shape (spec §6.2) ----


def test_shape_main_trie_paths_match_upstream_vector() -> None:
    cases = [(0, 1, 0xFF), (256, 1, 0xFF), (65535, 1, 0xFF), (65536, 1, 0xFF), (65540, 2, 0xFFFF),
             (1_000_000, 3, 0xFFFFFF), (5_000_000, 4, 0xFFFFFFFF), (16_777_215, 5, 0xFFFFFFFF)]
    keys = [b << 40 | (s & m) for b, _, m in cases for s in (0x1234567, 0xFEDCBA9)]
    shape = proof_shape(keys, {b: lv for b, lv, _ in cases})
    assert shape.internal[0] == (0, 1, 15, 76, 255)
    assert shape.internal[1] == (0, 1, 255)
    assert shape.internal[256] == (255,)
    all_points = (*shape.internal.values(), *shape.leaves.values())
    assert all(0 < len(p) and all(0 <= x < 256 for x in p) for p in all_points)
    ids = list(shape.internal)
    assert ids == sorted(ids) and list(shape.leaves) == sorted(shape.leaves)


def test_shape_of_expanded_bucket_bridges_to_main_trie() -> None:
    bucket, key = 65540, 65540 << 40 | 2049
    shape = proof_shape([key], {bucket: 2})
    bridge = bucket_root_node(bucket) | 2 << 33
    segment = subtree_leaf_for_key(key)
    assert shape.internal[bridge] == (vc_position(segment),) == (8,)
    assert shape.leaves == {segment: (2049 & 0xFF,)}
    assert connect_id(bridge) == bucket_root_node(bucket)
    assert logic_id(bridge) == bucket << 40 | STARTING_NODE_ID[3]
    assert child_node(logic_id(bridge), 8) == segment
    assert shape.commitment_ids() == {0, 2, 513, bucket_root_node(bucket), segment}
    assert leaf_start_key(segment) == bucket << 40 | 2048
    assert leaf_start_key(bucket_root_node(bucket)) == bucket << 40


def test_shape_level_three_bucket_walks_the_subtree() -> None:
    key = 1_000_000 << 40 | 70_000
    shape = proof_shape([key], {1_000_000: 3})
    segment = subtree_leaf_for_key(key)
    assert shape.internal[parent_node(segment)] == (vc_position(segment),)
    assert logic_id(bucket_root_node(1_000_000) | 3 << 33) == 1_000_000 << 40 | STARTING_NODE_ID[2]


@pytest.mark.parametrize(
    ("keys", "levels", "message"),
    [
        ([], {}, "no keys"),
        ([5 << 40], {5: 1, 6: 1}, "levels buckets differ"),
        ([70000 << 40], {}, "levels buckets differ"),
        ([70000 << 40], {70000: 0}, "invalid subtree levels"),
        ([70000 << 40], {70000: 6}, "invalid subtree levels"),
        ([300 << 40], {300: 2}, "invalid subtree levels"),
        ([70000 << 40 | 256], {70000: 1}, "beyond the capacity"),
    ],
)
def test_shape_rejects_inconsistent_levels(keys: list[int], levels: dict[int, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        proof_shape(keys, levels)


# ---- real witnesses (spec §8 recipes 2, 4) ----


def test_real_witness_roots_match_parent_state_roots(testdata: Path) -> None:
    for number, w, root in real_witnesses(testdata):
        assert witness_root(w) == root, number


def test_real_witness_1140_shape(testdata: Path) -> None:
    _, w, _ = real_witnesses(testdata)[0]
    shape = proof_shape(w.kvs, w.proof.levels)
    assert shape.commitment_ids() == set(w.proof.parents_commitments)
    assert sum(map(len, shape.internal.values())) + sum(map(len, shape.leaves.values())) == 1057


def test_every_real_witness_verifies(testdata: Path) -> None:
    for _, w, root in real_witnesses(testdata):
        verify_witness(w, root)


def _with_kvs(w: SaltWitness, kvs: dict[int, SaltValue | None]) -> SaltWitness:
    return replace(w, kvs=kvs)


def _revalued(sv: SaltValue | None) -> SaltValue:
    """The same key with another value of the same length (a well-formed entry the proof does not hold)."""
    assert sv is not None
    return SaltValue(sv.key, b"\x02" * len(sv.value))


def _with_proof(w: SaltWitness, **changes: object) -> SaltWitness:
    return replace(w, proof=replace(w.proof, **changes))


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda w, k: _with_kvs(w, {**w.kvs, k: _revalued(w.kvs[k])}), "proof check"),
        (lambda w, k: _with_kvs(w, {**w.kvs, k: SaltValue(b"\x01" * 20, b"\x02" * 40)}), "bad entry"),
        (lambda w, k: _with_kvs(w, {x: v for x, v in w.kvs.items() if x != k}), "shape mismatch: levels"),
        (lambda w, k: _with_kvs(w, {**w.kvs, k + 1: None}), "proof check failed"),
        (lambda w, k: _with_proof(w, levels={**w.proof.levels, 12345: 1}), "shape mismatch"),
        (lambda w, k: _with_proof(w, parents_commitments={**w.proof.parents_commitments, 5 << 40: bytes(32)}),
         "shape mismatch"),
        (lambda w, k: _with_proof(w, proof=w.proof.proof[:-32] + b"\xff" * 32), "not canonical"),
        (lambda w, k: _with_proof(w, proof=bytes(32) + w.proof.proof[32:]), "proof check"),
        (lambda w, k: _with_proof(w, proof=w.proof.proof[:32] + b"\xff" * 32 + w.proof.proof[64:]),
         "bad point: proof point 1 "),
        (lambda w, k: _with_proof(w, parents_commitments={**w.proof.parents_commitments, 1: b"\xff" * 32}),
         "bad point: commitment of node 1: ff"),
    ],
)
def test_tampered_real_witness_is_rejected(
    testdata: Path, mutate: Callable[[SaltWitness, int], SaltWitness], reason: str
) -> None:
    _, w, root = real_witnesses(testdata)[0]
    key = next(k for k, v in w.kvs.items() if v is not None and k >> 40 >= 65536)
    with pytest.raises(WitnessVerifyError, match=reason):
        verify_witness(mutate(w, key), root)


def test_root_mismatch_and_bad_root_point(testdata: Path) -> None:
    _, w, root = real_witnesses(testdata)[0]
    with pytest.raises(WitnessVerifyError, match="root mismatch"):
        verify_witness(w, bytes(32))
    bad = _with_proof(w, parents_commitments={**w.proof.parents_commitments, 0: b"\xff" * 32})
    with pytest.raises(WitnessVerifyError, match="bad point"):
        verify_witness(bad, root)


# ---- prover on synthetic states (spec §4.3, §4.4, §6.5) ----


def _m(c: bytes) -> int:
    return backend().map_to_scalars([c])[0]


@cache
def defaults() -> dict[str, bytes]:
    """Empty-state commitments recomputed from scratch (spec §4.4)."""
    be = backend()
    d = {"l3meta": be.commit([kv_hash(DEFAULT_META_VALUE)] * 256)}
    d["l3data"] = be.commit([EMPTY_SLOT_SCALAR] * 256)
    d["l2meta"], d["l2data"] = be.commit([_m(d["l3meta"])] * 256), be.commit([_m(d["l3data"])] * 256)
    d["l1meta"], d["l1data"] = be.commit([_m(d["l2meta"])] * 256), be.commit([_m(d["l2data"])] * 256)
    d["root"] = be.commit([_m(d["l1meta"])] + [_m(d["l1data"])] * 255)
    d["s1"] = be.commit([_m(d["l1data"])] * 256)
    d["s0"] = be.commit([_m(d["s1"])] * 256)
    return d


def default_commitment(node: int) -> bytes:
    d, level = defaults(), node_level(node)
    if node >> 40:
        return {4: d["l3data"], 3: d["l2data"], 2: d["l1data"], 1: d["s1"], 0: d["s0"]}[level]
    meta = node < (0, 2, 513, STARTING_NODE_ID[3] + 65536)[level] if level else False
    return d["root"] if level == 0 else d[f"l{level}{'meta' if meta else 'data'}"]


class SparseState:
    """A full SALT state given by its non-empty slots (meta slots default to DEFAULT_META_VALUE), with
    every node commitment computed from the defaults by the delta rule (spec §4.3); a ProofSource."""

    def __init__(self, slots: dict[int, SaltValue], levels: dict[int, int]) -> None:
        self.slots, self.levels = slots, levels
        self.nodes: dict[int, bytes] = {}
        by_leaf: dict[int, list[tuple[int, int]]] = {}
        for key, sv in slots.items():
            bucket = key >> 40
            leaf = bucket_root_node(bucket) if levels[bucket] == 1 else subtree_leaf_for_key(key)
            by_leaf.setdefault(leaf, []).append((key & 0xFF, (kv_hash(sv) - self._empty(key)) % R))
        self._apply(by_leaf)
        for bucket, level in levels.items():  # walk each expanded subtree up to its root (§2.4)
            for depth in range(4, 5 - level, -1):
                self._propagate([n for n in self.nodes if n >> 40 == bucket and node_level(n) == depth])
            if level > 1:
                top = bucket << 40 | STARTING_NODE_ID[5 - level]
                self.nodes[bucket_root_node(bucket)] = self.nodes.get(top, default_commitment(top))
        for depth in (3, 2, 1):
            self._propagate([n for n in self.nodes if n >> 40 == 0 and node_level(n) == depth])

    @staticmethod
    def _empty(key: int) -> int:
        return kv_hash(DEFAULT_META_VALUE) if key >> 40 < 65536 else EMPTY_SLOT_SCALAR

    def _apply(self, deltas: dict[int, list[tuple[int, int]]]) -> None:
        ids = list(deltas)
        olds = [self.nodes.get(n, default_commitment(n)) for n in ids]
        self.nodes.update(zip(ids, backend().commit_deltas(olds, [deltas[n] for n in ids]), strict=True))

    def _propagate(self, children: list[int]) -> None:
        deltas: dict[int, list[tuple[int, int]]] = {}
        new = backend().map_to_scalars([self.nodes[c] for c in children])
        old = backend().map_to_scalars([default_commitment(c) for c in children])
        for c, s_new, s_old in zip(children, new, old, strict=True):
            deltas.setdefault(parent_node(c), []).append((vc_position(c), (s_new - s_old) % R))
        self._apply(deltas)

    def root(self) -> bytes:
        return _m(self.nodes.get(0, default_commitment(0))).to_bytes(32, "little")

    def commitment(self, node: int) -> bytes:
        return self.nodes.get(node, default_commitment(node))

    def node_scalars(self, node: int) -> Sequence[int]:
        level = node_level(node)
        if (node >> 40 == 0 and level == 3) or level == 4:
            start = leaf_start_key(node)
            return [kv_hash(self.value(k)) for k in range(start, start + 256)]
        return backend().map_to_scalars([self.commitment(child_node(node, i)) for i in range(256)])

    def value(self, key: int) -> SaltValue | None:
        if key in self.slots:
            return self.slots[key]
        return DEFAULT_META_VALUE if key >> 40 < 65536 else None


def test_defaults_give_the_empty_root() -> None:
    assert SparseState({}, {}).root().hex() == EMPTY_ROOT


def synthetic_state() -> SparseState:
    sv = lambda i: SaltValue(bytes([i]) * 20, bytes([i + 1]) * 40)  # noqa: E731
    slots = {
        300 << 40 | 7: SaltValue((3).to_bytes(4, "little") + (256).to_bytes(8, "little"), b""),
        76807 << 40 | 1: sv(1), 76807 << 40 | 2: sv(2),
        100000 << 40 | 5: sv(3), 100000 << 40 | 300: sv(4),
        2000000 << 40 | 3: sv(5), 2000000 << 40 | 70000: sv(6),
        16777215 << 40 | 255: sv(7),
    }
    return SparseState(slots, {300: 1, 0: 1, 76807: 1, 100000: 2, 2000000: 3, 16777215: 1})


def test_prover_round_trip_on_synthetic_state() -> None:
    state = synthetic_state()
    keys = [*state.slots, 0, 76807 << 40 | 3, 100000 << 40 | 65535, 2000000 << 40 | 16_000_000]
    kvs = {k: state.value(k) for k in sorted(keys)}
    proof = create_proof(kvs, state.levels, state)
    assert len(proof.proof) == 576 and list(proof.levels) == sorted(state.levels)
    witness = SaltWitness(kvs, proof)
    verify_proof(witness, state.root())  # synthetic keys, not in their buckets
    assert decode_salt_witness(encode_salt_witness(witness)) == witness
    assert create_proof(kvs, state.levels, state) == proof  # deterministic
    some_key = 100000 << 40 | 300
    with pytest.raises(WitnessVerifyError, match="proof check failed"):
        verify_proof(replace(witness, kvs={**kvs, some_key: SaltValue(b"x", b"y")}), state.root())
    with pytest.raises(ValueError, match="disagrees"):
        create_proof({**kvs, some_key: None}, state.levels, state)


def test_prover_on_real_witness_shaped_state(testdata: Path) -> None:
    """Prove 1140's kvs over a full state holding exactly those values, then verify (consistency)."""
    _, w, _ = real_witnesses(testdata)[0]
    state = SparseState({k: v for k, v in w.kvs.items() if v is not None}, dict(w.proof.levels))
    proof = create_proof(w.kvs, w.proof.levels, state)
    assert set(proof.parents_commitments) == set(w.proof.parents_commitments)
    verify_witness(SaltWitness(w.kvs, proof), state.root())


def test_prover_sparse_sums_give_the_reference_proof(testdata: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The proof from the C sums over sparse node vectors equals, byte for byte, the reference's."""
    from salt import ipa

    _, w, _ = real_witnesses(testdata)[0]
    state = SparseState({k: v for k, v in w.kvs.items() if v is not None}, dict(w.proof.levels))
    synthetic = synthetic_state()
    synthetic_kvs = {k: synthetic.value(k) for k in sorted([*synthetic.slots, 0, 76807 << 40 | 3])}
    cases = [(w.kvs, w.proof.levels, state), (synthetic_kvs, synthetic.levels, synthetic)]
    fast = [create_proof(*case) for case in cases]
    monkeypatch.setattr(ipa, "_sums", ipa._Sums)
    assert [create_proof(*case) for case in cases] == fast


def test_verifier_reference_sums_accept_and_reject_alike(testdata: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the C verifier sums removed, `check_multiproof` takes the Python reference: real witnesses still
    verify and a tampered leaf value is still rejected."""
    from salt import native

    (_, w, root), *_ = real_witnesses(testdata)
    key = next(k for k, v in w.kvs.items() if v is not None and k >> 40 >= 65536)
    bad = {**w.kvs, key: _revalued(w.kvs[key])}
    for drop in (False, True):
        if drop:
            monkeypatch.delattr(native.NativeBackend, "fr_verify_sums")
            monkeypatch.delattr(native.NativeBackend, "fr_verify_final")
        verify_witness(w, root)
        with pytest.raises(WitnessVerifyError, match="proof check failed"):
            verify_witness(SaltWitness(bad, w.proof), root)
