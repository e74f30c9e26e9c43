"""Banderwagon group, pure-Python reference (spec/salt.md §3): the oracle the C code is checked against.

Points are extended twisted-Edwards tuples `(X, Y, Z, T)` with `x = X/Z`, `y = Y/Z`, `T = XY/Z`.
Banderwagon identifies `(x, y)` with `(-x, -y)`; compare points with `eq`, never `==`.
"""

from __future__ import annotations

from collections.abc import Sequence

Q = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001  # base field (BLS12-381 Fr)
R = 0x1CFB69D4CA675F520CCE760202687600FF8F87007419047174FD06B52876E7E1  # prime subgroup order
A = Q - 5
D = 0x6389C12633C267CBC66E3BF86BE3B6D8CB66677177E54F92B369F2F5188D58E7

Point = tuple[int, int, int, int]
IDENTITY: Point = (0, 1, 1, 0)
_HALF_Q = (Q - 1) // 2
_TWO_ADICITY = 32
_ODD = (Q - 1) >> _TWO_ADICITY
_NONRESIDUE_ROOT = pow(7, _ODD, Q)  # 7 is a quadratic non-residue mod Q


class PointDecodeError(ValueError):
    """Bytes that are not the encoding of a Banderwagon element."""


def inv(a: int) -> int:
    """Field inverse mod Q (0 has none)."""
    return pow(a, Q - 2, Q)


def is_positive(y: int) -> bool:
    """arkworks' lexicographic sign: `y > q - y` (spec §3, not parity)."""
    return y > _HALF_Q


def legendre(a: int) -> int:
    """1 for a non-zero square, Q-1 for a non-square, 0 for zero."""
    return pow(a, (Q - 1) // 2, Q)


def sqrt(a: int) -> int | None:
    """A square root mod Q (Tonelli-Shanks, 2-adicity 32), or None when `a` is not a square."""
    a %= Q
    if a == 0:
        return 0
    if legendre(a) != 1:
        return None
    m, c = _TWO_ADICITY, _NONRESIDUE_ROOT
    t, x = pow(a, _ODD, Q), pow(a, (_ODD + 1) // 2, Q)
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2 = t2 * t2 % Q
            i += 1
        b = pow(c, 1 << (m - i - 1), Q)
        m, c = i, b * b % Q
        t, x = t * c % Q, x * b % Q
    return x


def add(p: Point, q: Point) -> Point:
    """Unified addition on extended coordinates (add-2008-hwcd, general a)."""
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = x1 * x2 % Q
    b = y1 * y2 % Q
    c = t1 * D % Q * t2 % Q
    d = z1 * z2 % Q
    e = ((x1 + y1) * (x2 + y2) - a - b) % Q
    f = (d - c) % Q
    g = (d + c) % Q
    h = (b - A * a) % Q
    return (e * f % Q, g * h % Q, f * g % Q, e * h % Q)


def neg(p: Point) -> Point:
    x, y, z, t = p
    return ((-x) % Q, y, z, (-t) % Q)


def sub(p: Point, q: Point) -> Point:
    return add(p, neg(q))


def mul(p: Point, k: int) -> Point:
    """Scalar multiplication by double-and-add (k is reduced mod R)."""
    k %= R
    acc = IDENTITY
    while k:
        if k & 1:
            acc = add(acc, p)
        p = add(p, p)
        k >>= 1
    return acc


def msm(points: Sequence[Point], scalars: Sequence[int]) -> Point:
    """Σ scalars[i]·points[i] (reference: one multiplication per term)."""
    acc = IDENTITY
    for p, k in zip(points, scalars, strict=True):
        if k % R:
            acc = add(acc, mul(p, k))
    return acc


def affine(p: Point) -> tuple[int, int]:
    x, y, z, _ = p
    zi = inv(z)
    return x * zi % Q, y * zi % Q


def from_affine(x: int, y: int) -> Point:
    return (x % Q, y % Q, 1, x * y % Q)


def eq(p: Point, q: Point) -> bool:
    """Banderwagon equality: `x1·y2 == x2·y1` (projective form: X1·Y2 == X2·Y1)."""
    return p[0] * q[1] % Q == q[0] * p[1] % Q


def is_identity(p: Point) -> bool:
    return p[0] % Q == 0


def compress(p: Point) -> bytes:
    """32-byte big-endian `x` of the representative with positive `y` (spec §3)."""
    x, y = affine(p)
    return (x if is_positive(y) else (-x) % Q).to_bytes(32, "big")


def decompress(data: bytes) -> Point:
    """Parse a compressed element with the subgroup check; raise PointDecodeError when invalid."""
    if len(data) != 32:
        raise PointDecodeError(f"compressed point must be 32 bytes, got {len(data)}")
    x = int.from_bytes(data, "big")
    if x >= Q:
        raise PointDecodeError("x coordinate is not canonical (>= q)")
    xx = x * x % Q
    num, den = (A * xx - 1) % Q, (D * xx - 1) % Q
    if den == 0:
        raise PointDecodeError("x has no curve point")
    y = sqrt(num * inv(den) % Q)
    if y is None:
        raise PointDecodeError("x has no curve point (y^2 is not a square)")
    if not is_positive(y):
        y = Q - y
    if legendre((1 - A * xx) % Q) != 1:
        raise PointDecodeError("point is not in the Banderwagon subgroup")
    return from_affine(x, y)


def to_bytes64(p: Point) -> bytes:
    """Uncompressed commitment bytes: canonical positive-y representative, x LE ‖ y LE (spec §3)."""
    x, y = affine(p)
    if not is_positive(y):
        x, y = (-x) % Q, (-y) % Q
    return x.to_bytes(32, "little") + y.to_bytes(32, "little")


def from_bytes64(data: bytes) -> Point:
    """Inverse of `to_bytes64` (trusted storage format: no curve check)."""
    if len(data) != 64:
        raise PointDecodeError(f"uncompressed point must be 64 bytes, got {len(data)}")
    return from_affine(int.from_bytes(data[:32], "little"), int.from_bytes(data[32:], "little"))


def map_to_scalar(p: Point) -> int:
    """`hash_commitment`: (x / y mod q) reduced mod r (spec §3); invariant under (x, y) ~ (-x, -y)."""
    x, y, _, _ = p
    return x * inv(y) % Q % R


def map_bytes64_to_scalar(data: bytes) -> int:
    """map_to_scalar of a 64-byte commitment."""
    x, y = int.from_bytes(data[:32], "little"), int.from_bytes(data[32:], "little")
    return x * inv(y) % Q % R
