"""Property: every tampered real witness is rejected, by the decoder or by the verifier
(spec/salt.md §6.1-§6.4, §8 recipe 4).

Mutations: flip a byte of a SaltValue, of a commitment or of the proof; replace a commitment (by
another valid point of the same witness, or random bytes); drop or add a kvs entry; change or add a
level; truncate or extend the file. The untouched witnesses are verified once up front, so their
points sit in the verifier's decode cache and each example costs one IPA check at most.
Examples: 1000 under CI, 100 elsewhere; with the pure-Python group backend (~2 s a check) 25 examples
over the first 3 witnesses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shared_data import in_ci

from salt.multiproof import WitnessVerifyError, verify_witness, witness_root
from salt.pedersen import backend
from salt.types import SALT_VALUE_LEN, SaltValue
from salt.witness import (
    PROOF_LEN,
    SaltWitness,
    WitnessDecodeError,
    WitnessFile,
    decode_witness_file,
    encode_witness_file,
)

PURE_PYTHON = backend().name == "python"
EXAMPLES = 25 if PURE_PYTHON else 1000 if in_ci() else 100


@dataclass(frozen=True)
class Real:
    """One real witness file: bytes, decoded form, parent state root, and byte offsets of its fields."""

    data: bytes
    file: WitnessFile
    root: bytes
    value_offsets: tuple[int, ...]  # start of each Some SaltValue
    commitment_offsets: tuple[int, ...]  # start of each 32-byte commitment
    proof_offset: int  # start of the 576 proof bytes


def _layout(data: bytes, wf: WitnessFile) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    pos, values = 88, []
    for sv in wf.salt_witness.kvs.values():
        if sv is not None:
            values.append(pos + 9)
        pos += 9 + (SALT_VALUE_LEN if sv is not None else 0)
    pos += 8
    commitments = [pos + 40 * i + 8 for i in range(len(wf.salt_witness.proof.parents_commitments))]
    proof_offset = pos + 40 * len(commitments) + 8
    assert data[proof_offset : proof_offset + PROOF_LEN] == wf.salt_witness.proof.proof
    return tuple(values), tuple(commitments), proof_offset


@cache
def reals(testdata: Path) -> tuple[Real, ...]:
    out = []
    paths = sorted((testdata / "stateless" / "witness").glob("*.salt"))
    for path in paths[:3] if PURE_PYTHON else paths:
        (block,) = (testdata / "blocks").glob(f"{int(path.name.split('.')[0]) - 1}.*.json")
        root = bytes.fromhex(json.loads(block.read_text())["stateRoot"][2:])
        data = path.read_bytes()
        wf = decode_witness_file(data)
        verify_witness(wf.salt_witness, root)  # also warms the point cache
        out.append(Real(data, wf, root, *_layout(data, wf)))
    return tuple(out)


def _xor(data: bytes, offset: int, mask: int) -> bytes:
    return data[:offset] + bytes((data[offset] ^ mask,)) + data[offset + 1 :]


def _reencode(real: Real, w: SaltWitness) -> bytes:
    return encode_witness_file(replace(real.file, salt_witness=w))


def _tamper(real: Real, draw: st.DrawFn) -> tuple[str, bytes]:
    """One mutation of a real witness file, as new file bytes."""
    w, data = real.file.salt_witness, real.data
    kind = draw(
        st.sampled_from(
            ["value", "commitment", "swap_commitment", "random_commitment", "proof", "drop", "add",
             "level", "add_level", "truncate", "extend"]
        )
    )
    mask = draw(st.integers(1, 255))
    if kind == "value":
        off = draw(st.sampled_from(real.value_offsets)) + draw(st.integers(0, SALT_VALUE_LEN - 1))
        return kind, _xor(data, off, mask)
    if kind == "commitment":
        off = draw(st.sampled_from(real.commitment_offsets)) + draw(st.integers(0, 31))
        return kind, _xor(data, off, mask)
    if kind == "proof":
        return kind, _xor(data, real.proof_offset + draw(st.integers(0, PROOF_LEN - 1)), mask)
    if kind in ("swap_commitment", "random_commitment"):
        commitments = dict(w.proof.parents_commitments)
        node = draw(st.sampled_from(list(commitments)))
        if kind == "swap_commitment":
            others = st.sampled_from(list(commitments.values()))
        else:
            others = st.binary(min_size=32, max_size=32)
        commitments[node] = draw(others.filter(lambda c: c != w.proof.parents_commitments[node]))
        return kind, _reencode(real, replace(w, proof=replace(w.proof, parents_commitments=commitments)))
    if kind == "drop":
        key = draw(st.sampled_from(list(w.kvs)))
        return kind, _reencode(real, replace(w, kvs={k: v for k, v in w.kvs.items() if k != key}))
    if kind == "add":
        bucket = draw(st.one_of(st.sampled_from(list(w.proof.levels)), st.integers(0, (1 << 24) - 1)))
        slot = draw(st.one_of(st.integers(0, 255), st.integers(0, (1 << 40) - 1)))
        key = bucket << 40 | slot
        value = draw(
            st.one_of(
                st.none(),
                st.builds(SaltValue, st.binary(min_size=1, max_size=52), st.binary(max_size=40)),
            ).filter(lambda v: key not in w.kvs or v != w.kvs[key])
        )
        return kind, _reencode(real, replace(w, kvs={**w.kvs, key: value}))
    if kind == "level":
        bucket = draw(st.sampled_from(list(w.proof.levels)))
        level = draw(st.integers(0, 255).filter(lambda lv: lv != w.proof.levels[bucket]))
        levels = {**w.proof.levels, bucket: level}
        return kind, _reencode(real, replace(w, proof=replace(w.proof, levels=levels)))
    if kind == "add_level":
        bucket = draw(st.integers(0, (1 << 24) - 1).filter(lambda b: b not in w.proof.levels))
        levels = {**w.proof.levels, bucket: draw(st.integers(1, 5))}
        return kind, _reencode(real, replace(w, proof=replace(w.proof, levels=levels)))
    if kind == "truncate":
        return kind, data[: draw(st.integers(0, len(data) - 1))]
    return kind, data + draw(st.binary(min_size=1, max_size=64))


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=in_ci(),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_tampered_witness_is_always_rejected(testdata: Path, data: st.DataObject) -> None:
    real = data.draw(st.sampled_from(reals(testdata)))
    kind, tampered = _tamper(real, data.draw)
    assert tampered != real.data
    try:
        wf = decode_witness_file(tampered)
    except WitnessDecodeError:
        return
    try:
        verify_witness(wf.salt_witness, real.root)
    except WitnessVerifyError:
        return
    raise AssertionError(f"{kind} mutation of a real witness was accepted")


def _resplit(w: SaltWitness, key: int, sv: SaltValue) -> SaltWitness:
    return replace(w, kvs={**w.kvs, key: sv})


def test_entry_resplit_between_key_and_value_is_rejected(testdata: Path) -> None:
    """The proof fixes `key ‖ value` only (a slot hashes their concatenation), so moving bytes across the
    boundary keeps every commitment: the entry's shape and bucket must be checked (salt.md §8 recipe 3).
    Accepted, such an entry hides the key it was (a lookup stops at a smaller key) or crashes the decoders."""
    kinds: set[str] = set()
    for real in reals(testdata)[:3]:
        w = real.file.salt_witness
        for key, sv in w.kvs.items():
            if sv is None:
                continue
            if len(sv.key) == 12:
                kind, moved = "meta", SaltValue(sv.key[:11], sv.key[11:])
            elif len(sv.key) == 52:
                kind, moved = "storage", SaltValue(sv.key[:20], sv.key[20:] + sv.value)
            else:
                kind, moved = "account", SaltValue(sv.key[:19], sv.key[19:] + sv.value)
            if kind in kinds:
                continue
            kinds.add(kind)
            tampered = _resplit(w, key, moved)
            assert witness_root(tampered) == real.root
            with pytest.raises(WitnessVerifyError, match="bad entry"):
                verify_witness(tampered, real.root)
    assert kinds == {"meta", "storage", "account"}
