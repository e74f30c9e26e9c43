"""The SALT CRS: 256 vector-commitment generators G[0..255] and the IPA point Q (spec/salt.md §4.1)."""

from __future__ import annotations

import hashlib
from functools import cache

from salt.banderwagon import Q as FIELD_Q
from salt.banderwagon import Point, PointDecodeError, decompress

CRS_SEED = b"MAKE_ETHEREUM_GREAT_AGAIN"
CRS_SIZE = 257  # 256 generators + Q


@cache
def crs_points() -> tuple[Point, ...]:
    """Try-and-increment: SHA256(seed ‖ BE64(i)) mod q, kept when it decompresses (with subgroup check)."""
    out: list[Point] = []
    i = 0
    while len(out) < CRS_SIZE:
        h = hashlib.sha256(CRS_SEED + i.to_bytes(8, "big")).digest()
        try:
            out.append(decompress((int.from_bytes(h, "big") % FIELD_Q).to_bytes(32, "big")))
        except PointDecodeError:
            pass
        i += 1
    return tuple(out)


def generators() -> tuple[Point, ...]:
    """G[0..255]."""
    return crs_points()[:256]


def ipa_point() -> Point:
    """The inner-product point Q (CRS entry 256)."""
    return crs_points()[256]
