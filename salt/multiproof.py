"""SALT witness proofs: proof shape, verification, and the prover (spec/salt.md §6.2, §6.4, §6.5).

`verify_witness` runs the cheap checks first (levels, shape, required commitment ids, root, proof
scalar), then decodes points through a process-wide cache keyed by their compressed bytes, then the
IPA check (`salt.ipa`). Group work goes through `salt.pedersen.backend()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from salt import banderwagon as bw
from salt.constants import (
    BUCKET_SLOT_BITS,
    BUCKET_SLOT_ID_MASK,
    MAX_SUBTREE_LEVELS,
    NUM_META_BUCKETS,
    STARTING_NODE_ID,
)
from salt.hasher import bucket_id
from salt.ipa import Queries, check_multiproof, open_multiproof, split_proof
from salt.pedersen import backend
from salt.types import (
    BUCKET_NODE_START,
    SEGMENT_START,
    BucketMeta,
    SaltValue,
    bucket_root_node,
    child_node,
    kv_hash,
    parent_node,
    subtree_leaf_for_key,
    vc_position,
)
from salt.witness import SaltProof, SaltWitness, sorted_levels

_ENCODED_MASK = 7 << 33  # level bits of an encoded bridge parent id (spec §6.2)
_CONNECT_MASK = (1 << 33) - 1
_CACHE_LIMIT = 1 << 17


class WitnessVerifyError(ValueError):
    """A witness that does not prove its key-values against the expected root; the message says why."""


class BadPointError(bw.PointDecodeError):
    """A compressed point that fails to decode; `index` is its position in the decoded sequence."""

    def __init__(self, index: int, data: bytes, reason: str) -> None:
        super().__init__(f"{data.hex()}: {reason}")
        self.index = index


@dataclass(frozen=True, slots=True)
class ProofShape:
    """spec §6.2: parent id (maybe encoded) → ascending points, for internal and leaf nodes; ids ascending."""

    internal: dict[int, tuple[int, ...]]
    leaves: dict[int, tuple[int, ...]]

    def commitment_ids(self) -> set[int]:
        """Ids whose commitments the proof must carry: `connect(n)` of every node."""
        return {connect_id(n) for n in self.internal} | set(self.leaves)


def connect_id(node: int) -> int:
    """The stored node of a possibly encoded parent id (spec §6.2 `connect`)."""
    return node & _CONNECT_MASK if node & _ENCODED_MASK else node


def logic_id(node: int) -> int:
    """The node naming the children of a possibly encoded parent id: the subtree root (spec §6.2 `logic`)."""
    if not node & _ENCODED_MASK:
        return node
    bucket = (node & _CONNECT_MASK) - BUCKET_NODE_START
    return bucket << BUCKET_SLOT_BITS | STARTING_NODE_ID[MAX_SUBTREE_LEVELS - (node >> 33)]


def proof_shape(keys: Iterable[int], levels: Mapping[int, int]) -> ProofShape:
    """spec §6.2: the (node, point) openings that prove `keys`; ValueError when keys and levels disagree
    (bucket sets differ, level outside 1..5, expanded meta bucket, slot beyond `256^level`).

    Node ids are computed inline (bucket `b` sits at main-trie level-3 index `b`, slot `s` of an
    `L`-level subtree at level-4 index `s >> 8`); a walk towards a root stops at the first parent
    already recorded, whose ancestors are then recorded too."""
    keys = list(keys)
    if not keys:
        raise ValueError("no keys to prove")
    buckets = {k >> BUCKET_SLOT_BITS for k in keys}
    if buckets != set(levels):
        extra, missing = sorted(set(levels) - buckets)[:3], sorted(buckets - set(levels))[:3]
        raise ValueError(f"levels buckets differ from kvs buckets (extra {extra}, missing {missing})")
    s1, s2, s3, s4 = STARTING_NODE_ID[1:5]
    internal: dict[int, set[int]] = {}
    for bucket in buckets:
        level = levels[bucket]
        if not 1 <= level <= MAX_SUBTREE_LEVELS or (bucket < NUM_META_BUCKETS and level != 1):
            raise ValueError(f"bucket {bucket}: invalid subtree levels {level}")
    # main trie: bucket b's level-3 node has parent s2 + (b >> 8), grandparent s1 + (b >> 16), then 0.
    for bucket in buckets:
        parent = s2 + (bucket >> 8)
        points = internal.get(parent)
        if points is None:
            internal[parent] = {bucket & 0xFF}
            grand = s1 + (bucket >> 16)
            points = internal.get(grand)
            if points is None:
                internal[grand] = {bucket >> 8 & 0xFF}
                internal.setdefault(0, set()).add(bucket >> 16)
            else:
                points.add(bucket >> 8 & 0xFF)
        else:
            points.add(bucket & 0xFF)
    leaves: dict[int, set[int]] = {}
    starts = (0, 0, s3, s2, s1)  # starts[d]: first local id of subtree level 5 - d
    for key in keys:
        bucket, slot = key >> BUCKET_SLOT_BITS, key & BUCKET_SLOT_ID_MASK
        level = levels[bucket]
        if slot >= 256**level:
            raise ValueError(f"key {key:#x}: slot {slot} beyond the capacity of a {level}-level bucket")
        if level == 1:
            leaf = s3 + bucket
        else:
            base = bucket << BUCKET_SLOT_BITS
            leaf = base + s4 + (slot >> 8)
            if leaf not in leaves:
                index = slot >> 8  # the node's index within its subtree level
                for depth in range(2, level):  # its parent is at subtree level 5 - depth
                    parent = base + starts[depth] + (index >> 8)
                    points = internal.get(parent)
                    if points is not None:
                        points.add(index & 0xFF)
                        break
                    internal[parent] = {index & 0xFF}
                    index >>= 8
                else:
                    internal.setdefault(s3 + bucket | level << 33, set()).add(index)
        points = leaves.get(leaf)
        if points is None:
            leaves[leaf] = {slot & 0xFF}
        else:
            points.add(slot & 0xFF)
    return ProofShape(
        {n: tuple(sorted(internal[n])) for n in sorted(internal)},
        {n: tuple(sorted(leaves[n])) for n in sorted(leaves)},
    )


def leaf_start_key(leaf: int) -> int:
    """SaltKey of point 0 of a leaf node: bucket slot 0, or a segment's first slot (spec §6.2)."""
    if leaf >> BUCKET_SLOT_BITS == 0:
        return (leaf - BUCKET_NODE_START) << BUCKET_SLOT_BITS
    local = leaf & BUCKET_SLOT_ID_MASK
    return (leaf - local) + ((local - SEGMENT_START) << 8)


# ---- point cache: compressed bytes → (64-byte commitment, map_to_scalar) ----

_POINTS: dict[bytes, tuple[bytes, int]] = {}


def decode_points(compressed: Sequence[bytes]) -> list[tuple[bytes, int]]:
    """Decompress (with subgroup check) and map to scalars, caching by bytes (spec §3); BadPointError
    names the first invalid one."""
    missing = list(dict.fromkeys(c for c in compressed if c not in _POINTS))
    if missing:
        be = backend()
        try:
            points = be.decompress_many(missing)
        except bw.PointDecodeError:
            for c in missing:
                try:
                    be.decompress_many([c])
                except bw.PointDecodeError as e:
                    raise BadPointError(compressed.index(c), c, str(e)) from e
            raise
        if len(_POINTS) + len(missing) > _CACHE_LIMIT:
            _POINTS.clear()
        _POINTS.update(zip(missing, zip(points, be.map_to_scalars(points), strict=True), strict=True))
    return [_POINTS[c] for c in compressed]


def clear_point_cache() -> None:
    """Forget every decoded point: the next witnesses pay for their decompression, as in a fresh process."""
    _POINTS.clear()


def root_of_commitment(compressed: bytes) -> bytes:
    """State root of a root commitment: `LE32(map_to_scalar(C))` (spec §3, §4.3)."""
    return decode_points([compressed])[0][1].to_bytes(32, "little")


def witness_root(witness: SaltWitness) -> bytes:
    """The pre-state root a witness claims: from its node-0 commitment (spec §6.4)."""
    root = witness.proof.parents_commitments.get(0)
    if root is None:
        raise WitnessVerifyError("shape mismatch: no root commitment (node 0)")
    try:
        return root_of_commitment(root)
    except bw.PointDecodeError as e:
        raise WitnessVerifyError(f"bad point: root commitment: {e}") from e


# (key length, value length) of a data entry: account (EOA, contract), storage slot (salt.md §2.1)
DATA_ENTRY_SHAPES = frozenset({(20, 40), (20, 72), (52, 32)})


def check_entries(kvs: Mapping[int, SaltValue | None]) -> None:
    """salt.md §8 recipe 3, stateless-validator.md §2.3 step 1: every metadata entry is a BucketMeta, every
    present data entry has an account or storage shape and lies in its key's bucket. The proof fixes only
    `key ‖ value`, so without this a witness could move bytes between key and value and still verify."""
    for key, sv in kvs.items():
        bucket = key >> BUCKET_SLOT_BITS
        if bucket < NUM_META_BUCKETS:
            if sv is None:
                raise WitnessVerifyError(f"bad entry {key:#x}: metadata is None")
            try:
                BucketMeta.from_value(sv)
            except ValueError as e:
                raise WitnessVerifyError(f"bad entry {key:#x}: {e}") from e
        elif sv is not None:
            if (len(sv.key), len(sv.value)) not in DATA_ENTRY_SHAPES:
                raise WitnessVerifyError(f"bad entry {key:#x}: key of {len(sv.key)} bytes with a value of "
                                         f"{len(sv.value)} is neither an account nor a storage slot")
            if bucket_id(sv.key) != bucket:
                raise WitnessVerifyError(f"bad entry {key:#x}: key {sv.key.hex()} belongs in bucket "
                                         f"{bucket_id(sv.key)}, not {bucket}")


def verify_witness(witness: SaltWitness, expected_root: bytes) -> None:
    """spec §6.4 (§6.6 step 1): raise WitnessVerifyError unless the witness's entries are well formed
    (`check_entries`) and it proves them under `expected_root` (`verify_proof`)."""
    check_entries(witness.kvs)
    verify_proof(witness, expected_root)


def verify_proof(witness: SaltWitness, expected_root: bytes) -> None:
    """spec §6.4: raise WitnessVerifyError unless the witness proves its kvs, whatever they hold, under
    `expected_root`."""
    p = witness.proof
    try:
        shape = proof_shape(witness.kvs, p.levels)
    except ValueError as e:
        raise WitnessVerifyError(f"shape mismatch: {e}") from e
    required = shape.commitment_ids()
    if required != set(p.parents_commitments):
        extra = sorted(set(p.parents_commitments) - required)[:3]
        missing = sorted(required - set(p.parents_commitments))[:3]
        raise WitnessVerifyError(
            f"shape mismatch: commitment ids differ from the proof shape (extra {extra}, missing {missing})"
        )
    root = witness_root(witness)
    if root != expected_root:
        raise WitnessVerifyError(
            f"root mismatch: witness proves {root.hex()}, expected {expected_root.hex()}"
        )
    try:
        proof_points, _ = split_proof(p.proof)
    except ValueError as e:
        raise WitnessVerifyError(f"bad proof encoding: {e}") from e

    ids = list(p.parents_commitments)
    compressed = list(p.parents_commitments.values())
    try:
        decoded = decode_points(compressed)
    except BadPointError as e:
        raise WitnessVerifyError(f"bad point: commitment of node {ids[e.index]}: {e}") from e
    try:
        proof_decoded = decode_points(proof_points)
    except BadPointError as e:
        raise WitnessVerifyError(f"bad point: proof point {e.index} (0 = D, then L, R): {e}") from e
    index = {n: i for i, n in enumerate(ids)}
    node: list[int] = []
    zs: list[int] = []
    children: list[int] = []
    for parent, points in shape.internal.items():
        first = child_node(logic_id(parent), 0)  # child z is first + z
        node += [index[connect_id(parent)]] * len(points)
        zs += points
        children += [first + z for z in points]
    ys = [decoded[index[c]][1] for c in children]
    kvs = witness.kvs
    for leaf, points in shape.leaves.items():
        start = leaf_start_key(leaf)
        node += [index[leaf]] * len(points)
        zs += points
        ys += [kv_hash(kvs[start + z]) for z in points]
    queries = Queries(compressed, [d[0] for d in decoded], node, zs, ys)
    if not check_multiproof(queries, p.proof, [d[0] for d in proof_decoded]):
        raise WitnessVerifyError("proof check failed: IPA multiproof does not verify")


class ProofSource(Protocol):
    """Full state the prover reads (spec §6.5): stored commitments and each node's 256 evaluations."""

    def commitment(self, node: int) -> bytes:
        """64-byte commitment of a stored node (main-trie id or subtree id; never a subtree root)."""
        ...

    def node_scalars(self, node: int) -> Sequence[int]:
        """The 256 scalars a node commits to: `kv_hash` of its slots (leaf, meta slots never empty) or
        `map_to_scalar` of its children, defaults included (internal node; subtree roots by subtree id)."""
        ...


def create_proof(
    kvs: Mapping[int, SaltValue | None], levels: Mapping[int, int], source: ProofSource
) -> SaltProof:
    """spec §6.5: the SaltProof for `kvs` (values as stored in `source`); `levels` written ascending.
    Raises ValueError on an inconsistent shape or when a `kvs` value disagrees with its leaf vector."""
    levels = sorted_levels(levels)
    shape = proof_shape(kvs, levels)
    ids = sorted(shape.commitment_ids())
    points = [source.commitment(n) for n in ids]
    compressed = backend().compress_many(points)
    index = {n: i for i, n in enumerate(ids)}
    vectors: list[Sequence[int]] = [()] * len(ids)
    node: list[int] = []
    zs: list[int] = []
    ys: list[int] = []
    for parent, pts in shape.internal.items():
        ci = index[connect_id(parent)]
        vectors[ci] = f = source.node_scalars(logic_id(parent))
        for z in pts:
            node.append(ci)
            zs.append(z)
            ys.append(f[z])
    for leaf, pts in shape.leaves.items():
        ci, start = index[leaf], leaf_start_key(leaf)
        vectors[ci] = f = source.node_scalars(leaf)
        for z in pts:
            if f[z] != kv_hash(kvs[start + z]):
                raise ValueError(f"key {start + z:#x}: value disagrees with the committed slot")
            node.append(ci)
            zs.append(z)
            ys.append(f[z])
    proof = open_multiproof(Queries(compressed, points, node, zs, ys), vectors)
    return SaltProof(dict(zip(ids, compressed, strict=True)), proof, levels)
