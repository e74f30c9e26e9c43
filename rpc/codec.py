"""Hex codecs for JSON-RPC values (spec/rpc.md §1 Encoding): quantities, data, addresses, hashes."""

from __future__ import annotations

import re
from typing import Any

_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]*)\Z")
MAX_QUANTITY_DIGITS = 64


class CodecError(ValueError):
    """A value that is not the hex form the method expects; the message says what was wrong."""


def quantity(n: int) -> str:
    """Format a non-negative int as a Quantity: 0x-prefixed hex, no leading zeros."""
    if n < 0:
        raise ValueError(f"quantity must be non-negative: {n}")
    return hex(n)


def data(b: bytes) -> str:
    return "0x" + b.hex()


def parse_quantity(v: Any) -> int:
    """Parse a Quantity; decimals, leading zeros and non-strings are rejected."""
    if not isinstance(v, str):
        raise CodecError(f"json: cannot unmarshal {type(v).__name__} into a hex quantity")
    if len(v) > MAX_QUANTITY_DIGITS + 2 or not _QUANTITY.match(v):
        raise CodecError(f"hex string {v[:70]!r} is not a valid quantity")
    return int(v, 16)


def parse_data(v: Any, size: int | None = None) -> bytes:
    """Parse Data (0x + even hex digits), optionally of an exact byte size. `bytes.fromhex` does the digit
    check (a raw transaction's ~250 digits: 0.4 us, against 4 us for a regex); it skips whitespace between
    bytes, which the length check catches."""
    out = None
    if isinstance(v, str) and v[:2] == "0x" and not len(v) % 2:
        try:
            out = bytes.fromhex(v[2:])
        except ValueError:
            pass
    if out is None or 2 * len(out) + 2 != len(v):
        raise CodecError(f"hex string {str(v)[:70]!r} is not valid data (0x-prefixed, even length)")
    if size is not None and len(out) != size:
        raise CodecError(f"hex string has length {len(out)}, want {size} bytes")
    return out


_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+\Z")


def parse_slot(v: Any) -> int:
    """A storage key as geth takes it (`decodeHash`): 0x and 1–64 hex digits, leading zeros allowed; geth's
    messages (execution-apis `eth_getStorageAt`)."""
    if not isinstance(v, str):
        raise CodecError(f"json: cannot unmarshal {type(v).__name__} into a storage key")
    if len(v) > 66:
        raise CodecError(f"storage key too long (want at most 32 bytes): {v[:70]!r}")
    if v[:2] != "0x" or not _HEX_DIGITS.match(v[2:]):
        raise CodecError(f"invalid hex in storage key: {v!r}")
    return int(v, 16)


def parse_address(v: Any) -> bytes:
    return parse_data(v, 20)


def parse_hash(v: Any) -> bytes:
    return parse_data(v, 32)
