"""`mega_getBlockWitness` transport: "v0:" + base64(zstd(bincode((SaltWitness, MptWitness)))) on the real
witnesses, and strict rejection of everything else (spec/stateless-validator.md §8.1)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import zstandard

from megaeth_node.fixtures import fixture_blocks
from salt.witness import (
    RPC_WITNESS_PREFIX,
    WitnessDecodeError,
    decode_mpt_witness,
    decode_rpc_witness,
    decode_witness_file,
    encode_mpt_witness,
    encode_rpc_witness,
    encode_salt_witness,
)


def _pairs(testdata: Path, n: int = 3) -> list[tuple[bytes, bytes]]:
    fbs = [fb for fb in fixture_blocks(testdata) if fb.salt_path and fb.mpt_path][:n]
    return [(fb.salt_path.read_bytes(), fb.mpt_path.read_bytes()) for fb in fbs]  # type: ignore[union-attr]


def _wrap(payload: bytes, **zstd_args: object) -> str:
    return RPC_WITNESS_PREFIX + base64.b64encode(zstandard.ZstdCompressor(**zstd_args).compress(payload)).decode()


def test_round_trip_is_byte_identical_to_the_files(testdata: Path) -> None:
    for salt_file, mpt_file in _pairs(testdata):
        wf, mpt = decode_witness_file(salt_file), decode_mpt_witness(mpt_file)
        s = encode_rpc_witness(wf.salt_witness, mpt)
        assert s.startswith("v0:")
        salt2, mpt2 = decode_rpc_witness(s)
        assert salt2 == wf.salt_witness and mpt2 == mpt
        payload = zstandard.ZstdDecompressor().decompress(base64.b64decode(s[3:]))
        assert payload == salt_file[80:] + mpt_file  # the .salt body (minus the 2×40-byte envelope) ‖ .mpt


def test_frame_without_content_size_is_accepted(testdata: Path) -> None:
    salt_file, mpt_file = _pairs(testdata, 1)[0]
    s = _wrap(salt_file[80:] + mpt_file, write_content_size=False)
    assert decode_rpc_witness(s)[1] == decode_mpt_witness(mpt_file)


@pytest.mark.parametrize("content_size", [True, False], ids=["declared", "undeclared"])
def test_decompression_bomb_is_refused(content_size: bool) -> None:
    bomb = _wrap(bytes(4 << 20), write_content_size=content_size)
    assert len(bomb) < 2000
    with pytest.raises(WitnessDecodeError, match="cap|zstd"):
        decode_rpc_witness(bomb, max_bytes=1 << 20)


def test_malformed_layers_are_refused(testdata: Path) -> None:
    salt_file, mpt_file = _pairs(testdata, 1)[0]
    good = _wrap(salt_file[80:] + mpt_file)
    packed = base64.b64decode(good[3:])
    bad = {
        "no prefix": good[3:],
        "other version": "v1:" + good[3:],
        "not a string": b"v0:",
        "bad base64": good[:-4] + "!!!!",
        "truncated base64": good[:-1],
        "whitespace": good[:10] + "\n" + good[10:],
        "not zstd": "v0:" + base64.b64encode(b"hello world").decode(),
        "truncated zstd": "v0:" + base64.b64encode(packed[:-10]).decode(),
        "trailing bytes": "v0:" + base64.b64encode(packed + b"\0").decode(),
        "two frames": "v0:" + base64.b64encode(packed + packed).decode(),
        "trailing payload": _wrap(salt_file[80:] + mpt_file + b"\0"),
        "short payload": _wrap(salt_file[80:] + mpt_file[:-1]),
        "salt only": _wrap(salt_file[80:]),
        "file envelope": _wrap(salt_file + mpt_file),
    }
    for name, s in bad.items():
        with pytest.raises(WitnessDecodeError):
            decode_rpc_witness(s)  # type: ignore[arg-type]
            pytest.fail(f"accepted: {name}")


def test_encoder_matches_file_encoders(testdata: Path) -> None:
    salt_file, mpt_file = _pairs(testdata, 1)[0]
    wf, mpt = decode_witness_file(salt_file), decode_mpt_witness(mpt_file)
    s = encode_rpc_witness(wf.salt_witness, mpt)
    payload = zstandard.ZstdDecompressor().decompress(base64.b64decode(s[3:]))
    assert payload == encode_salt_witness(wf.salt_witness) + encode_mpt_witness(mpt)
