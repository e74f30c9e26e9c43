"""Witness codec on the real `.salt`/`.mpt` files (spec/salt.md §6.1, §8; stateless-validator.md §3.5-3.6)."""

from __future__ import annotations

import json
import random
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from salt.witness import (
    PROOF_LEN,
    MptWitness,
    SaltProof,
    SaltWitness,
    WitnessDecodeError,
    WitnessFile,
    decode_mpt_witness,
    decode_salt_witness,
    decode_witness_file,
    encode_mpt_witness,
    encode_salt_witness,
    encode_witness_file,
    sorted_levels,
)
from salt.types import SaltValue


def witness_paths(testdata: Path, suffix: str) -> list[Path]:
    paths = sorted((testdata / "stateless" / "witness").glob(f"*.{suffix}"))
    assert paths, f"no .{suffix} files under {testdata}"
    return paths


def parent_block(testdata: Path, number: int) -> dict:
    (path,) = (testdata / "blocks").glob(f"{number - 1}.*.json")
    return json.loads(path.read_text())


def small_witness() -> WitnessFile:
    kvs: dict[int, SaltValue | None] = {
        (300 << 40) | 7: SaltValue(b"\x00" * 4 + (256).to_bytes(8, "little"), b""),
        (76807 << 40) | 1: SaltValue(b"\xaa" * 20, b"\x01" * 40),
        (76807 << 40) | 2: None,
    }
    commitments = {0: b"\x11" * 32, 5: b"\x22" * 32}
    proof = SaltProof(commitments, bytes(range(256)) * 2 + bytes(64), {76807: 1, 300: 1})
    return WitnessFile(b"\x01" * 32, b"\x02" * 32, SaltWitness(kvs, proof))


def test_real_witnesses_round_trip_byte_identical(testdata: Path) -> None:
    for path in witness_paths(testdata, "salt"):
        data = path.read_bytes()
        wf = decode_witness_file(data)
        assert encode_witness_file(wf) == data, path.name
        number, block_hash = path.name.split(".")[:2]
        assert "0x" + wf.parent_hash.hex() == parent_block(testdata, int(number))["hash"]
        w = wf.salt_witness
        assert len(w.proof.proof) == PROOF_LEN
        assert set(w.proof.levels) == {k >> 40 for k in w.kvs}
        inner = data[80:]
        assert decode_salt_witness(inner) == w
        assert encode_salt_witness(w) == inner


def test_real_witness_1140_counts(testdata: Path) -> None:
    (path,) = witness_paths(testdata, "salt")[:1]
    w = decode_witness_file(path.read_bytes()).salt_witness
    assert (len(w.kvs), len(w.proof.parents_commitments)) == (298, 760)
    assert w.proof.parents_commitments[0].hex() == (
        "2c8afc9b50470263894bdc7784c2a9ef77c8394624f75e014e29fb2f77d164f3"
    )


def test_real_mpt_witnesses_round_trip(testdata: Path) -> None:
    for path in witness_paths(testdata, "mpt"):
        data = path.read_bytes()
        m = decode_mpt_witness(data)
        assert encode_mpt_witness(m) == data
        number = int(path.name.split(".")[0])
        assert "0x" + m.storage_root.hex() == parent_block(testdata, number)["withdrawalsRoot"]
        assert 6 <= len(m.state) <= 13


def test_every_truncation_of_a_small_witness_is_rejected() -> None:
    data = encode_witness_file(small_witness())
    assert decode_witness_file(data) == small_witness()
    for n in range(len(data)):
        with pytest.raises(WitnessDecodeError):
            decode_witness_file(data[:n])


def test_real_witness_truncations_and_extensions_are_rejected(testdata: Path) -> None:
    rng = random.Random(1140)
    for path in witness_paths(testdata, "salt")[:4]:
        data = path.read_bytes()
        cuts = {0, 1, 8, 40, 80, 88, len(data) - 1, len(data) - 5, len(data) - PROOF_LEN}
        cuts |= {rng.randrange(len(data)) for _ in range(150)}
        for n in sorted(cuts):
            with pytest.raises(WitnessDecodeError):
                decode_witness_file(data[:n])
        for extra in (b"\x00", b"\x01" * 9):
            with pytest.raises(WitnessDecodeError, match="trailing"):
                decode_witness_file(data + extra)


def test_decoding_reads_nothing_past_the_end(testdata: Path) -> None:
    """Embedded in a larger buffer, the decoder must stop exactly at the witness end (trailing error)."""
    data = witness_paths(testdata, "salt")[0].read_bytes()
    message = f"1 trailing bytes after witness file at offset {len(data)}"
    with pytest.raises(WitnessDecodeError, match=message):
        decode_witness_file(data + b"\xff")


def test_huge_length_prefixes_fail_before_allocating() -> None:
    data = encode_witness_file(small_witness())
    for offset, message in ((80, "kvs length 9223372036854775808 needs"), (0, "length must be 32")):
        bad = bytes(data[:offset]) + struct.pack("<Q", 2**63) + bytes(data[offset + 8 :])
        with pytest.raises(WitnessDecodeError, match=message):
            decode_witness_file(bad)
    with pytest.raises(WitnessDecodeError, match="only 0 left"):
        decode_mpt_witness(b"\x20" + bytes(7) + bytes(32) + struct.pack("<Q", 2**64 - 1))


def _kvs_entry_offset(n: int) -> int:
    return 88 + n * (9 + 94)  # entries of small_witness(): Some, Some, None


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda d: d.__setitem__(_kvs_entry_offset(0) + 8, 2), "invalid Option tag"),
        (lambda d: d.__setitem__(_kvs_entry_offset(0) + 9, 93), "exceed 92"),
        (lambda d: d.__setitem__(_kvs_entry_offset(0) + 9 + 93, 1), "non-zero padding"),
        (lambda d: d.__setitem__(slice(_kvs_entry_offset(1), _kvs_entry_offset(1) + 8), bytes(8)), "ascend"),
        (lambda d: d.__setitem__(slice(0, 8), struct.pack("<Q", 31)), "length must be 32"),
    ],
)
def test_malformed_fields_are_named(patch, message: str) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(encode_witness_file(small_witness()))
    patch(data)
    with pytest.raises(WitnessDecodeError, match=message):
        decode_witness_file(bytes(data))


def test_duplicate_levels_and_short_proof_are_rejected() -> None:
    w = small_witness()
    good = encode_witness_file(w)
    dup = good[:-10] + good[-5:] + good[-5:]  # levels [300, 300]
    with pytest.raises(WitnessDecodeError, match="duplicate bucket 300"):
        decode_witness_file(dup)
    short = replace(w.salt_witness, proof=replace(w.salt_witness.proof, proof=b"\x00" * 32, levels={}))
    with pytest.raises(WitnessDecodeError, match=f"proof must be {PROOF_LEN} bytes"):
        decode_salt_witness(encode_salt_witness(short))


def test_levels_keep_wire_order_and_writers_sort() -> None:
    w = decode_witness_file(encode_witness_file(small_witness())).salt_witness
    assert list(w.proof.levels) == [76807, 300]
    assert list(sorted_levels(w.proof.levels)) == [300, 76807]


def test_mpt_round_trip_small() -> None:
    m = MptWitness(b"\x07" * 32, (b"", b"\xc0", b"\xf8" * 600))
    assert decode_mpt_witness(encode_mpt_witness(m)) == m
