"""Hex codecs (spec/rpc.md §1 Encoding): what parse_data accepts and refuses."""

from __future__ import annotations

import pytest

from rpc.codec import CodecError, parse_data, parse_hash, parse_slot

VALID = ["0x", "0x00", "0xdeadBEEF", "0x" + "ab" * 300]
INVALID = ["", "0", "0x0", "0X00", "00", "deadbeef", "0x 1234", "0x12 34", "0x1234 ", " 0x1234", "0x12\n3",
           "0x1234\n\n", "0x\t\t12", "0x1g", "0xéé", "0x١٢", "0x+1", 12, None, b"0x12", ["0x12"]]


@pytest.mark.parametrize("v", VALID)
def test_valid_data(v: str) -> None:
    assert parse_data(v) == bytes(int(v[i:i + 2], 16) for i in range(2, len(v), 2))


@pytest.mark.parametrize("v", INVALID)
def test_invalid_data(v: object) -> None:
    with pytest.raises(CodecError, match="is not valid data"):
        parse_data(v)


def test_exact_size() -> None:
    assert parse_hash("0x" + "11" * 32) == b"\x11" * 32
    with pytest.raises(CodecError, match="want 32 bytes"):
        parse_hash("0x" + "11" * 31)


@pytest.mark.parametrize("v, slot", [("0x0", 0), ("0x01", 1), ("0x00ff", 255), ("0x" + "00" * 32, 0),
                                     ("0x" + "ff" * 32, 2**256 - 1)])
def test_storage_keys_as_geth_takes_them(v: str, slot: int) -> None:
    """eth_getStorageAt's key: any 1–64 hex digits, leading zeros too (geth's `decodeHash`)."""
    assert parse_slot(v) == slot


@pytest.mark.parametrize("v, message", [("0x", "invalid hex"), ("0x" + "0" * 65, "too long"), ("01", "invalid hex"),
                                        ("0xasdf", "invalid hex"), (1, "cannot unmarshal"), (None, "cannot unmarshal")])
def test_invalid_storage_keys(v: object, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        parse_slot(v)
