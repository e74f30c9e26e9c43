"""SALT witness model and bincode-1 legacy codec (spec/salt.md §6.1; spec/stateless-validator.md §3.5-3.6).

bincode 1 "legacy": little-endian fixed-width integers, u64 length prefixes for sequences and maps,
`Option` as a u8 tag (0 = None, 1 = Some), fixed arrays raw. A `B256` is serialized as bytes (u64
length 32, then the 32 bytes). Every length is checked against the bytes left before anything is
allocated; any malformed input raises `WitnessDecodeError`.

Canonical form enforced on decode (so that decode∘encode is the identity): `kvs` and
`parents_commitments` keys strictly ascending (BTreeMap order), `levels` without duplicates (kept in
file order: v1.0.1 wrote hash-map order), SaltValues with `key_len + value_len ≤ 92` and zero padding,
a 576-byte proof. Curve points are kept as raw 32-byte strings here; `salt.multiproof` validates them.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import zstandard

from salt.types import SALT_VALUE_LEN, SaltValue

B256_LEN = 32
COMMITMENT_LEN = 32  # compressed Banderwagon point
PROOF_LEN = 576  # D ‖ L_0..7 ‖ R_0..7 ‖ a (spec §6.1)

_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
_KV_MIN = 8 + 1  # SaltKey + Option tag
_COMMITMENT_ENTRY = 8 + COMMITMENT_LEN
_LEVEL_ENTRY = 4 + 1
_KV_HEAD = struct.Struct("<QB")  # SaltKey, Option tag
_COMMITMENT = struct.Struct(f"<Q{COMMITMENT_LEN}s")
_LEVEL = struct.Struct("<IB")


class WitnessDecodeError(ValueError):
    """Bytes that are not a canonical bincode witness (truncated, oversized, malformed, trailing data)."""


@dataclass(frozen=True, slots=True)
class SaltProof:
    """spec §6.1: node id → compressed commitment (ascending), 576 proof bytes, bucket → levels."""

    parents_commitments: dict[int, bytes]
    proof: bytes
    levels: dict[int, int]  # insertion order = wire order


@dataclass(frozen=True, slots=True)
class SaltWitness:
    """spec §6.1: SaltKey → SaltValue or None (proven empty), ascending; plus the proof."""

    kvs: dict[int, SaltValue | None]
    proof: SaltProof


@dataclass(frozen=True, slots=True)
class WitnessFile:
    """A `.salt` file (spec/stateless-validator.md §3.5)."""

    op_attributes_hash: bytes
    parent_hash: bytes
    salt_witness: SaltWitness


@dataclass(frozen=True, slots=True)
class MptWitness:
    """A `.mpt` file (spec/stateless-validator.md §3.6): storage root and RLP trie nodes."""

    storage_root: bytes
    state: tuple[bytes, ...]


class _Reader:
    """Bounds-checked cursor: every read is checked against the end before slicing."""

    __slots__ = ("buf", "pos")

    def __init__(self, data: bytes) -> None:
        self.buf = memoryview(data)
        self.pos = 0

    def left(self) -> int:
        return len(self.buf) - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n > self.left():
            raise WitnessDecodeError(
                f"truncated {what}: need {n} bytes at offset {self.pos}, {self.left()} left"
            )
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return out

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def u32(self, what: str) -> int:
        return _U32.unpack(self.take(4, what))[0]

    def u64(self, what: str) -> int:
        return _U64.unpack(self.take(8, what))[0]

    def count(self, what: str, min_entry: int) -> int:
        """A u64 length prefix, rejected unless `n` entries of `min_entry` bytes can still follow."""
        n = self.u64(f"{what} length")
        if n * min_entry > self.left():
            raise WitnessDecodeError(
                f"{what} length {n} needs at least {n * min_entry} bytes, only {self.left()} left"
            )
        return n

    def byte_vec(self, what: str) -> bytes:
        return self.take(self.count(what, 1), what)

    def b256(self, what: str) -> bytes:
        n = self.u64(f"{what} length")
        if n != B256_LEN:
            raise WitnessDecodeError(f"{what} length must be {B256_LEN}, got {n}")
        return self.take(B256_LEN, what)

    def finish(self, what: str) -> None:
        if self.left():
            raise WitnessDecodeError(f"{self.left()} trailing bytes after {what} at offset {self.pos}")


def _salt_value(raw: bytes, key: int) -> SaltValue:
    kl, vl = raw[0], raw[1]
    if 2 + kl + vl > SALT_VALUE_LEN:
        raise WitnessDecodeError(f"SaltValue at key {key:#x}: key_len {kl} + value_len {vl} exceed 92")
    if any(raw[2 + kl + vl :]):
        raise WitnessDecodeError(f"SaltValue at key {key:#x}: non-zero padding")
    return SaltValue(raw[2 : 2 + kl], raw[2 + kl : 2 + kl + vl])


def _read_salt_witness(r: _Reader) -> SaltWitness:
    kvs: dict[int, SaltValue | None] = {}
    prev = -1
    n = r.count("kvs", _KV_MIN)
    buf, pos = r.buf, r.pos
    unpack_kv = _KV_HEAD.unpack_from
    for _ in range(n):
        if len(buf) - pos < _KV_MIN:
            r.pos = pos
            r.u64("kvs key")  # one of these two raises: truncated
            r.u8("kvs option tag")
        key, tag = unpack_kv(buf, pos)
        pos += _KV_MIN
        if key <= prev:
            raise WitnessDecodeError(f"kvs keys not strictly ascending at {key:#x}")
        prev = key
        if tag == 0:
            kvs[key] = None
        elif tag == 1:
            r.pos = pos
            kvs[key] = _salt_value(r.take(SALT_VALUE_LEN, "SaltValue"), key)
            pos = r.pos
        else:
            raise WitnessDecodeError(f"kvs key {key:#x}: invalid Option tag {tag}")
    r.pos = pos

    # Fixed-size entries: `count` has checked that all n of them are there.
    n = r.count("parents_commitments", _COMMITMENT_ENTRY)
    entries = list(_COMMITMENT.iter_unpack(r.take(n * _COMMITMENT_ENTRY, "parents_commitments")))
    commitments: dict[int, bytes] = dict(entries)
    if any(a[0] >= b[0] for a, b in zip(entries, entries[1:])):
        node = next(b[0] for a, b in zip(entries, entries[1:]) if a[0] >= b[0])
        raise WitnessDecodeError(f"parents_commitments ids not strictly ascending at {node}")

    proof = r.byte_vec("proof")
    if len(proof) != PROOF_LEN:
        raise WitnessDecodeError(f"proof must be {PROOF_LEN} bytes, got {len(proof)}")

    n = r.count("levels", _LEVEL_ENTRY)
    pairs = list(_LEVEL.iter_unpack(r.take(n * _LEVEL_ENTRY, "levels")))
    levels: dict[int, int] = dict(pairs)
    if len(levels) != n:
        seen: set[int] = set()
        bucket = next(b for b, _ in pairs if b in seen or seen.add(b))  # type: ignore[func-returns-value]
        raise WitnessDecodeError(f"levels: duplicate bucket {bucket}")
    return SaltWitness(kvs, SaltProof(commitments, proof, levels))


def _write_salt_witness(w: SaltWitness, out: list[bytes]) -> None:
    out.append(_U64.pack(len(w.kvs)))
    for key in sorted(w.kvs):
        sv = w.kvs[key]
        if sv is None:
            out.append(_U64.pack(key) + b"\x00")
        else:
            out.append(_U64.pack(key) + b"\x01" + sv.to_bytes())
    p = w.proof
    out.append(_U64.pack(len(p.parents_commitments)))
    for node in sorted(p.parents_commitments):
        c = p.parents_commitments[node]
        if len(c) != COMMITMENT_LEN:
            raise ValueError(f"commitment of node {node} must be {COMMITMENT_LEN} bytes")
        out.append(_U64.pack(node) + c)
    out.append(_U64.pack(len(p.proof)) + p.proof)
    out.append(_U64.pack(len(p.levels)))
    out.extend(_U32.pack(b) + bytes((lv,)) for b, lv in p.levels.items())


def _write_b256(v: bytes, what: str) -> bytes:
    if len(v) != B256_LEN:
        raise ValueError(f"{what} must be {B256_LEN} bytes")
    return _U64.pack(B256_LEN) + v


def decode_salt_witness(data: bytes) -> SaltWitness:
    """Decode a bincode `SaltWitness` that fills `data` exactly (spec §6.1)."""
    r = _Reader(data)
    w = _read_salt_witness(r)
    r.finish("SaltWitness")
    return w


def encode_salt_witness(w: SaltWitness) -> bytes:
    """bincode `SaltWitness` (spec §6.1); `levels` in its dict order."""
    out: list[bytes] = []
    _write_salt_witness(w, out)
    return b"".join(out)


def decode_witness_file(data: bytes) -> WitnessFile:
    """Decode a `.salt` file (spec/stateless-validator.md §3.5); trailing bytes are an error."""
    r = _Reader(data)
    op_hash = r.b256("op_attributes_hash")
    parent = r.b256("parent_hash")
    w = _read_salt_witness(r)
    r.finish("witness file")
    return WitnessFile(op_hash, parent, w)


def encode_witness_file(f: WitnessFile) -> bytes:
    """Encode a `.salt` file (spec/stateless-validator.md §3.5)."""
    out = [_write_b256(f.op_attributes_hash, "op_attributes_hash"), _write_b256(f.parent_hash, "parent_hash")]
    _write_salt_witness(f.salt_witness, out)
    return b"".join(out)


def decode_mpt_witness(data: bytes) -> MptWitness:
    """Decode a `.mpt` file `{storage_root: B256, state: Vec<Bytes>}` (spec/stateless-validator.md §3.6)."""
    r = _Reader(data)
    root = r.b256("storage_root")
    nodes = tuple(r.byte_vec("trie node") for _ in range(r.count("state", 8)))
    r.finish("MPT witness")
    return MptWitness(root, nodes)


def encode_mpt_witness(m: MptWitness) -> bytes:
    """Encode a `.mpt` file (spec/stateless-validator.md §3.6)."""
    out = [_write_b256(m.storage_root, "storage_root"), _U64.pack(len(m.state))]
    out.extend(_U64.pack(len(n)) + n for n in m.state)
    return b"".join(out)


def sorted_levels(levels: Mapping[int, int]) -> dict[int, int]:
    """`levels` in ascending bucket order, as writers emit it (spec §6.1, v1.0.3+)."""
    return {b: levels[b] for b in sorted(levels)}


# ---- `mega_getBlockWitness` transport (spec/stateless-validator.md §8.1, later-upstream form) ----

RPC_WITNESS_PREFIX = "v0:"
RPC_WITNESS_ZSTD_LEVEL = 9
RPC_WITNESS_MAX_BYTES = 64 << 20  # decompressed cap: a real witness is 60-170 KB; refuses zstd bombs


def _read_mpt_witness(r: _Reader) -> MptWitness:
    root = r.b256("storage_root")
    return MptWitness(root, tuple(r.byte_vec("trie node") for _ in range(r.count("state", 8))))


def encode_rpc_witness(salt: SaltWitness, mpt: MptWitness) -> str:
    """`"v0:" + base64(zstd(level 9, bincode((SaltWitness, MptWitness))))`: the witness as the sequencer
    serves it; the bincode payload is the `.salt`/`.mpt` file bodies without the `.salt` envelope."""
    payload = encode_salt_witness(salt) + encode_mpt_witness(mpt)
    packed = zstandard.ZstdCompressor(level=RPC_WITNESS_ZSTD_LEVEL).compress(payload)
    return RPC_WITNESS_PREFIX + base64.b64encode(packed).decode("ascii")


def decode_rpc_witness(s: str, max_bytes: int = RPC_WITNESS_MAX_BYTES) -> tuple[SaltWitness, MptWitness]:
    """Inverse of `encode_rpc_witness`, strict: the `v0:` prefix, canonical base64, exactly one zstd frame
    whose output is at most `max_bytes`, and a bincode pair that fills it exactly. Raises
    `WitnessDecodeError` naming the failing layer."""
    if not isinstance(s, str) or not s.startswith(RPC_WITNESS_PREFIX):
        raise WitnessDecodeError(f"RPC witness must be a string starting with {RPC_WITNESS_PREFIX!r}")
    body = s[len(RPC_WITNESS_PREFIX) :]
    try:
        packed = base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise WitnessDecodeError(f"RPC witness: bad base64: {e}") from e
    try:
        declared = zstandard.get_frame_parameters(packed).content_size
        if declared != zstandard.CONTENTSIZE_UNKNOWN and declared > max_bytes:
            raise WitnessDecodeError(f"RPC witness: zstd frame declares {declared} bytes, cap is {max_bytes}")
        dctx = zstandard.ZstdDecompressor()
        payload = dctx.decompress(packed, max_output_size=max_bytes)
        tail = dctx.decompressobj()
        tail.decompress(packed)  # bounded: the same first frame, already decompressed within the cap
        if not tail.eof or tail.unused_data:
            raise WitnessDecodeError(f"RPC witness: {len(tail.unused_data)} bytes after the zstd frame")
    except zstandard.ZstdError as e:
        raise WitnessDecodeError(f"RPC witness: bad zstd data: {e}") from e
    if len(payload) > max_bytes:
        raise WitnessDecodeError(f"RPC witness: {len(payload)} decompressed bytes exceed the cap {max_bytes}")
    r = _Reader(payload)
    salt = _read_salt_witness(r)
    mpt = _read_mpt_witness(r)
    r.finish("RPC witness (SaltWitness, MptWitness)")
    return salt, mpt
