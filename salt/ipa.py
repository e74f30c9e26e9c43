"""IPA multipoint argument over the domain 0..255 (spec/salt.md §6.4 verify, §6.5 prove).

Polynomials are in evaluation form on the domain; commitments are `Σ f_j·G[j]`. Points are handled as
32-byte compressed encodings (transcript) and 64-byte commitments (group work, always through
`salt.pedersen.backend()`); scalars are ints mod r. The proof is 576 bytes:
`D ‖ L_0..L_7 ‖ R_0..R_7 ‖ a` (points compressed, `a` 32 bytes LE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from salt import banderwagon as bw
from salt.crs import generators, ipa_point
from salt.pedersen import backend
from salt.transcript import Transcript

R = bw.R
DOMAIN = 256
ROUNDS = 8  # log2(DOMAIN)
PROOF_LEN = 32 * (1 + 2 * ROUNDS) + 32
_Z_BYTES = tuple(z.to_bytes(32, "little") for z in range(DOMAIN))


@dataclass(frozen=True, slots=True)
class Queries:
    """Opening claims `f_n(z) = y` (spec §6.2 order); `node[i]` indexes the per-node commitment lists."""

    compressed: Sequence[bytes]  # 32-byte commitment per node
    points: Sequence[bytes]  # 64-byte commitment per node
    node: Sequence[int]
    z: Sequence[int]
    y: Sequence[int]


@cache
def _crs64() -> tuple[tuple[bytes, ...], bytes]:
    """G[0..255] and Q as 64-byte commitments (spec §4.1)."""
    return tuple(bw.to_bytes64(g) for g in generators()), bw.to_bytes64(ipa_point())


@cache
def _barycentric() -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """`A'(j) = Π_{k≠j}(j−k)`, its inverses, and inverses of 0..255 (index 0 unused), all mod r."""
    aprime = []
    for j in range(DOMAIN):
        p = 1
        for k in range(DOMAIN):
            if k != j:
                p = p * (j - k) % R
        aprime.append(p)
    return tuple(aprime), tuple(batch_inverse(aprime)), (0, *batch_inverse(list(range(1, DOMAIN))))


def _background(f: list[int]) -> int | None:
    """A value among f_0, f_85, f_170 that fills over 3/4 of `f`, if any (most node vectors repeat one
    value: empty slots, default children)."""
    for c in {f[0], f[85], f[170]}:
        if f.count(c) > DOMAIN * 3 // 4:
            return c
    return None


def _split_vector(f: Sequence[int]) -> tuple[int, list[tuple[int, int]] | None]:
    """(c, [(j, f_j − c) for f_j ≠ c]) for the `_background` value c of `f`, or (0, None) when there is
    none (the vector is then aggregated densely)."""
    f = list(f)
    c = _background(f)
    if c is None:
        return 0, None
    return c, [(j, x - c) for j, x in enumerate(f) if x != c]


def _sparse(f: Sequence[int]) -> tuple[int, bytes, bytes]:
    """`f` as (c, the slots j with f_j ≠ c, those f_j as LE32) for its `_background` c (0 when dense)."""
    f = list(f)
    c = _background(f)
    if c is None:
        return 0, bytes(range(DOMAIN)), b"".join([x.to_bytes(32, "little") for x in f])
    idx = bytes([j for j, x in enumerate(f) if x != c])
    return c, idx, b"".join([f[j].to_bytes(32, "little") for j in idx])


class _Sums:
    """The prover's two sums over `agg_z = Σ_{i: z_i = z} r^i·f_{n_i}`: `quotient()` =
    Σ_z (agg_z(X) − agg_z(z)) / (X − z) and `combine(inv_tz)` = Σ_z agg_z(X) / (t − z), evaluation form.
    This reference aggregates in Python and sums with the backend's dense `fr_*`; `_SparseSums` in C."""

    def __init__(self, q: Queries, vectors: Sequence[Sequence[int]], r: int) -> None:
        self.zs, self.packed = _aggregate_reference(q, vectors, r)

    def quotient(self) -> list[int]:
        aprime, inv_aprime, inv_small = _barycentric()
        return backend().fr_quotient_sum(self.packed, self.zs, inv_small, aprime, inv_aprime)

    def combine(self, inv_tz: Sequence[int]) -> list[int]:
        return backend().fr_combine(self.packed, [inv_tz[z] for z in self.zs])


class _SparseSums:
    """`_Sums` on the node vectors in sparse form (`_sparse`), in C (`fr_quotient_sparse`, `fr_combine_sparse`)."""

    def __init__(self, q: Queries, vectors: Sequence[Sequence[int]], r: int) -> None:
        used = sorted(set(q.node))
        index = {n: i for i, n in enumerate(used)}
        self.nodes = [_sparse(vectors[n]) for n in used]
        self.node = [index[n] for n in q.node]
        self.z, self.r = q.z, r

    def quotient(self) -> list[int]:
        return backend().fr_quotient_sparse(  # type: ignore[attr-defined]
            self.nodes, self.node, self.z, self.r, _quotient_constants()
        )

    def combine(self, inv_tz: Sequence[int]) -> list[int]:
        return backend().fr_combine_sparse(self.nodes, self.node, self.z, self.r, inv_tz)  # type: ignore[attr-defined]


def _sums(q: Queries, vectors: Sequence[Sequence[int]], r: int) -> _Sums | _SparseSums:
    """The C sums when the backend has them (`salt.native`), else the reference."""
    if hasattr(backend(), "fr_quotient_sparse"):
        return _SparseSums(q, vectors, r)
    return _Sums(q, vectors, r)


@cache
def _quotient_constants() -> tuple[tuple[int, ...], ...]:
    """`fr_quotient_sparse`'s constants: 1/d, A'(j), 1/A'(j) and `s_z = Σ_{j≠z} 1/(A'(j)·(j − z))`, which
    is `H_z / A'(z)` for `H_z = Σ_{k≠z} 1/(z − k)` (the residue at z of the partial fractions of 1/A)."""
    aprime, inv_aprime, inv_small = _barycentric()
    harmonic = [0] * DOMAIN  # harmonic[n] = Σ_{d=1..n} 1/d
    for d in range(1, DOMAIN):
        harmonic[d] = (harmonic[d - 1] + inv_small[d]) % R
    sums = tuple(inv_aprime[z] * (harmonic[z] - harmonic[DOMAIN - 1 - z]) % R for z in range(DOMAIN))
    return inv_small, aprime, inv_aprime, sums


def _aggregate_reference(q: Queries, vectors: Sequence[Sequence[int]], r: int) -> tuple[bytes, bytes]:
    """The distinct z (first-query order) and their agg_z packed LE32 (256 scalars each), on Python
    integers: a constant background plus a vector per z, since most node vectors repeat one value
    (empty slots, default children) and only their other entries are added."""
    split = {n: _split_vector(vectors[n]) for n in set(q.node)}
    agg: dict[int, list[int]] = {}
    background: dict[int, int] = {}
    ri = 1
    for n, z in zip(q.node, q.z, strict=True):
        acc = agg.get(z)
        if acc is None:
            acc = agg[z] = [0] * DOMAIN
        c, sparse = split[n]
        if sparse is None:
            agg[z] = [a + ri * x for a, x in zip(acc, vectors[n])]
        else:
            background[z] = background.get(z, 0) + ri * c
            for j, dx in sparse:
                acc[j] += ri * dx
        ri = ri * r % R
    zs = bytes(agg)
    return zs, b"".join([((a + background.get(z, 0)) % R).to_bytes(32, "little") for z in zs for a in agg[z]])


def batch_inverse(values: Sequence[int]) -> list[int]:
    """Inverses mod r of non-zero scalars with one exponentiation (Montgomery's trick)."""
    prefix = [1] * (len(values) + 1)
    for i, v in enumerate(values):
        prefix[i + 1] = prefix[i] * v % R
    inv = pow(prefix[-1], -1, R) if prefix[-1] else 0  # 0 as pow(0, R - 2, R) gives
    out = [0] * len(values)
    for i in range(len(values) - 1, -1, -1):
        out[i] = inv * prefix[i] % R
        inv = inv * values[i] % R
    return out


def _lagrange_at(t: int, inv_t_minus: Sequence[int]) -> list[int]:
    """`b_j = L_j(t) = A(t) / (A'(j)·(t − j))` for t outside the domain (spec §6.4)."""
    _, inv_aprime, _ = _barycentric()
    a_t = 1
    for j in range(DOMAIN):
        a_t = a_t * (t - j) % R
    return [a_t * inv_aprime[j] % R * inv_t_minus[j] % R for j in range(DOMAIN)]


def _inv_t_minus_domain(t: int) -> list[int]:
    """`1/(t − j)` for j in the domain; t must lie outside it."""
    return batch_inverse([(t - j) % R for j in range(DOMAIN)])


def _record_queries(tr: Transcript, q: Queries) -> None:
    tr.domain_sep(b"multiproof")
    parts = []
    for n, z, y in zip(q.node, q.z, q.y, strict=True):
        parts += (b"C", q.compressed[n], b"z", _Z_BYTES[z], b"y", y.to_bytes(32, "little"))
    tr.append_raw(b"".join(parts))


def _compress(point64: bytes) -> bytes:
    return backend().compress_many([point64])[0]


def _sub(p64: bytes, q64: bytes) -> bytes:
    return backend().msm([p64, q64], [1, R - 1])


def split_proof(proof: bytes) -> tuple[list[bytes], int]:
    """The 17 compressed points `D, L_0..7, R_0..7` and the scalar `a` (spec §6.1); `a` must be < r."""
    if len(proof) != PROOF_LEN:
        raise ValueError(f"proof must be {PROOF_LEN} bytes, got {len(proof)}")
    a = int.from_bytes(proof[-32:], "little")
    if a >= R:
        raise ValueError("proof scalar a is not canonical (>= r)")
    return [proof[i : i + 32] for i in range(0, PROOF_LEN - 32, 32)], a


def verify_sums_reference(q: Queries, r: int, t: int) -> tuple[list[int], int]:
    """The verifier's query sums (spec §6.4) for t outside the domain, with h_i = r^i/(t − z_i): per
    point the sum of h_i over its queries, and g2(t) = Σ h_i·y_i (all mod r). `NativeBackend.fr_verify_sums`
    computes the same in C."""
    inv_tz = _inv_t_minus_domain(t)
    node_scalar = [0] * len(q.points)
    g2_t = 0
    ri = 1
    for n, z, y in zip(q.node, q.z, q.y, strict=True):
        h = ri * inv_tz[z] % R
        node_scalar[n] += h
        g2_t += h * y
        ri = ri * r % R
    return [v % R for v in node_scalar], g2_t % R


def verify_final_reference(t: int, xs: Sequence[int], a: int) -> tuple[int, list[int], list[int]]:
    """From t, the IPA challenges `xs` and the proof scalar `a` (spec §6.4): b0 = Σ_j L_j(t)·s_j, the
    generator scalars a·s_j and 1/x_k, where s_j = −Π x_k^{-1} over the set bits of j (challenge 0 ↔
    the most significant bit). `NativeBackend.fr_verify_final` computes the same in C."""
    x_inv = batch_inverse(xs)
    s = [R - 1]
    for xi in x_inv:
        s = [v for u in s for v in (u, u * xi % R)]
    b = _lagrange_at(t, _inv_t_minus_domain(t))
    b0 = sum(bj * sj for bj, sj in zip(b, s, strict=True)) % R
    return b0, [a * sj % R for sj in s], x_inv


def check_multiproof(q: Queries, proof: bytes, proof_points: Sequence[bytes]) -> bool:
    """spec §6.4: verify `proof` (with its 17 points already decoded to 64 bytes) against the queries."""
    compressed, a = split_proof(proof)
    d64, l64, r64 = proof_points[0], proof_points[1 : 1 + ROUNDS], proof_points[1 + ROUNDS :]
    tr = Transcript(b"st")
    _record_queries(tr, q)
    r = tr.challenge(b"r")
    tr.append_point(b"D", compressed[0])
    t = tr.challenge(b"t")
    if t < DOMAIN:  # probability ~2^-245; the quotient argument needs t outside the domain
        return False
    be = backend()
    native = hasattr(be, "fr_verify_sums")  # the sums in C (`salt.native`), else the reference
    if native:
        node_scalar, g2_t = be.fr_verify_sums(q.node, q.z, q.y, len(q.points), r, t)  # type: ignore[attr-defined]
    else:
        node_scalar, g2_t = verify_sums_reference(q, r, t)
    e64 = be.msm(q.points, node_scalar)
    tr.append_point(b"E", _compress(e64))

    tr.domain_sep(b"ipa")
    tr.append_point(b"C", _compress(_sub(e64, d64)))
    tr.append_scalar(b"input point", t)
    tr.append_scalar(b"output point", g2_t)
    w = tr.challenge(b"w")
    xs = []
    for k in range(ROUNDS):
        tr.append_point(b"L", compressed[1 + k])
        tr.append_point(b"R", compressed[1 + ROUNDS + k])
        xs.append(tr.challenge(b"x"))
    if native:
        b0, a_s, x_inv = be.fr_verify_final(t, xs, a, _barycentric()[1])  # type: ignore[attr-defined]
    else:
        b0, a_s, x_inv = verify_final_reference(t, xs, a)
    qs = w * (g2_t + a * b0) % R
    # The 256 generator terms go through the fixed-base tables (`commit_deltas`), the rest is one MSM.
    rest = be.msm([*l64, *r64, e64, d64, _crs64()[1]], [*xs, *x_inv, 1, R - 1, qs])
    (total,) = be.commit_deltas([rest], [list(enumerate(a_s))])
    return not any(total[:32])


def open_multiproof(q: Queries, vectors: Sequence[Sequence[int]]) -> bytes:
    """spec §6.5: the 576-byte proof of the queries, given each node's 256 evaluations `vectors[n]`."""
    tr = Transcript(b"st")
    _record_queries(tr, q)
    r = tr.challenge(b"r")
    sums = _sums(q, vectors, r)
    g = sums.quotient()  # Σ_z (agg_z(X) − agg_z(z)) / (X − z)
    d64 = backend().commit(g)
    d = _compress(d64)
    tr.append_point(b"D", d)
    t = tr.challenge(b"t")
    if t < DOMAIN:
        raise ValueError("challenge t fell inside the domain (probability ~2^-245)")
    inv_tz = _inv_t_minus_domain(t)

    g1 = sums.combine(inv_tz)  # Σ_z agg_z(X) / (t − z)
    e64 = backend().commit(g1)
    tr.append_point(b"E", _compress(e64))
    g3 = [(u - v) % R for u, v in zip(g1, g, strict=True)]
    ls, rs, a = _ipa_open(tr, g3, _lagrange_at(t, inv_tz), _compress(_sub(e64, d64)), t)
    return d + b"".join(ls) + b"".join(rs) + a.to_bytes(32, "little")


def _ipa_open(
    tr: Transcript, a: list[int], b: list[int], c3: bytes, t: int
) -> tuple[list[bytes], list[bytes], int]:
    """spec §6.5 IPA rounds. The folded generators stay implicit: original `G[j]` sits at index
    `j mod n` with weight `wt[j]`, so every L/R is a fixed-base commitment over `G[0..255]` plus a Q term."""
    tr.domain_sep(b"ipa")
    tr.append_point(b"C", c3)
    tr.append_scalar(b"input point", t)
    tr.append_scalar(b"output point", sum(x * y for x, y in zip(a, b, strict=True)) % R)
    w = tr.challenge(b"w")
    q64 = _crs64()[1]
    wt = [1] * DOMAIN
    ls: list[bytes] = []
    rs: list[bytes] = []
    n = DOMAIN
    while n > 1:
        h = n // 2
        a_lo, a_hi, b_lo, b_hi = a[:h], a[h:], b[:h], b[h:]
        z_l = sum(x * y for x, y in zip(a_hi, b_lo, strict=True)) % R
        z_r = sum(x * y for x, y in zip(a_lo, b_hi, strict=True)) % R
        # L = Σ sl_j·G_j + w·z_l·Q: the G part on the fixed-base tables, starting from the Q term.
        sl = [(j, a_hi[j % n] * wt[j] % R) for j in range(DOMAIN) if j % n < h]
        sr = [(j, a_lo[j % n - h] * wt[j] % R) for j in range(DOMAIN) if j % n >= h]
        be = backend()
        q_terms = [be.msm([q64], [w * z_l % R]), be.msm([q64], [w * z_r % R])]
        l_pt, r_pt = be.compress_many(be.commit_deltas(q_terms, [sl, sr]))
        ls.append(l_pt)
        rs.append(r_pt)
        tr.append_point(b"L", l_pt)
        tr.append_point(b"R", r_pt)
        x = tr.challenge(b"x")
        x_inv = pow(x, R - 2, R)
        a = [(u + x * v) % R for u, v in zip(a_lo, a_hi, strict=True)]
        b = [(u + x_inv * v) % R for u, v in zip(b_lo, b_hi, strict=True)]
        wt = [wt[j] * x_inv % R if j % n >= h else wt[j] for j in range(DOMAIN)]
        n = h
    return ls, rs, a[0]
