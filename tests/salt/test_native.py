"""The C backend (salt.native) against the pure-Python reference (salt.pedersen.PythonBackend)."""

from __future__ import annotations

import hashlib
import random
import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aot import toolchain

from salt import banderwagon as bw
from salt import pedersen
from salt.crs import generators
from salt.pedersen import PythonBackend

native = pytest.importorskip("salt.native")

Q, R = bw.Q, bw.R
EMPTY_DATA_BUCKET = bytes.fromhex(
    "da260863cc36b265d34f9912c3b98ae7e046ced37bf5eebe1be164695093714e"
    "fc9e5b23b9ab87c9f7b51e4fec4ea377e4fe44672d70752f7c3522e0f0269555"
)
SUBTREE_L3_DEFAULT = bytes.fromhex(
    "1d8d81bcb60ff180ff99c497a8298af38d71d2fbf3c0ffda09b659839e373261"
    "2771a485191ab8fe740dc20d1a33c53f8cfbb1c07676d74050de914c0efc7f54"
)
KV_NONE = int.from_bytes(b"\x01" * 32, "little") % R
IDENTITY64 = bw.to_bytes64(bw.IDENTITY)

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PY = PythonBackend()


@pytest.fixture(scope="module")
def nb():
    try:
        b = native.NativeBackend()
    except native.NativeBuildError as e:  # pragma: no cover - environment without a C compiler
        pytest.skip(f"C backend unavailable: {e}")
    b.warm()
    return b


def _point(k: int) -> bytes:
    """k·G[k mod 256] as 64 bytes (pure Python, ~2 ms)."""
    return bw.to_bytes64(bw.mul(generators()[k % 256], k))


@pytest.fixture(scope="module")
def points() -> list[bytes]:
    rng = random.Random(7)
    pts = [_point(rng.randrange(1, R)) for _ in range(24)]
    # Non-canonical representatives of the same elements: (-x, -y) and unreduced x + q.
    x, y = int.from_bytes(pts[0][:32], "little"), int.from_bytes(pts[0][32:], "little")
    pts.append(((Q - x) % Q).to_bytes(32, "little") + (Q - y).to_bytes(32, "little"))
    pts.append((x + Q).to_bytes(32, "little") + y.to_bytes(32, "little"))
    pts += [IDENTITY64, bytes(32) + (1).to_bytes(32, "little")]
    return pts


point_index = st.integers(min_value=0, max_value=27)
scalars = st.one_of(
    st.integers(min_value=0, max_value=R - 1),
    st.sampled_from([0, 1, 2, R - 1, R, R + 1, -1, -R, 2**256 - 1, 2**253, 127, 128, 129, 255, 256]),
)


# ---------------------------------------------------------------- vectors and basics


def test_empty_data_bucket_vector(nb):
    assert nb.commit([KV_NONE] * 256) == EMPTY_DATA_BUCKET
    assert nb.commit_deltas([IDENTITY64], [[(i, KV_NONE) for i in range(256)]]) == [EMPTY_DATA_BUCKET]


def test_default_chain_vector(nb):
    """Subtree level-3 default = Σ map_to_scalar(empty data bucket)·G_i (spec §4.4)."""
    (s,) = nb.map_to_scalars([EMPTY_DATA_BUCKET])
    assert s == PY.map_to_scalars([EMPTY_DATA_BUCKET])[0]
    assert nb.commit([s] * 256) == SUBTREE_L3_DEFAULT


def test_crs_roundtrip(nb):
    gens = [bw.to_bytes64(g) for g in generators()]
    comp = nb.compress_many(gens)
    assert comp == PY.compress_many(gens)
    assert hashlib.sha256(b"".join(comp)).hexdigest() == (
        "e0d59418bbe04c1f4ec7493a9ed30497982d4ab5480d68b5e8ce426dd756d136"
    )
    assert nb.decompress_many(comp) == gens


def test_backend_selection(monkeypatch):
    pedersen.backend.cache_clear()
    try:
        monkeypatch.setenv("MEGAETH_SALT_BACKEND", "python")
        assert pedersen.backend().name == "python"
        pedersen.backend.cache_clear()
        monkeypatch.delenv("MEGAETH_SALT_BACKEND")
        assert pedersen.backend().name == "native"
    finally:
        pedersen.backend.cache_clear()


def test_missing_compiler_raises(monkeypatch, tmp_path):
    monkeypatch.setenv("MEGAETH_CC", str(tmp_path / "no-such-cc"))
    with pytest.raises(native.NativeBuildError, match="MEGAETH_CC"):
        native.find_compiler()


def test_built_with_the_discovered_compiler(monkeypatch, tmp_path):
    """The SALT C code goes through the same discovery as the AOT code: `$MEGAETH_CC` first."""
    log = tmp_path / "calls"
    cc = tmp_path / "cc"
    cc.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {shlex.join(toolchain.find_compiler().argv)} "$@"\n')
    cc.chmod(0o755)
    monkeypatch.setenv("MEGAETH_CC", str(cc))
    monkeypatch.setenv("MEGAETH_CACHE_DIR", str(tmp_path / "cache"))
    native.build(portable=True)
    assert any("banderwagon.c" in line for line in log.read_text().splitlines())


def test_build_is_cached_and_atomic(tmp_path, monkeypatch):
    monkeypatch.setenv("MEGAETH_CACHE_DIR", str(tmp_path))
    path = native.build()
    assert path.parent == tmp_path and path.name.startswith("salt_native-") and path.suffix == ".so"
    mtime = path.stat().st_mtime_ns
    assert native.build() == path and path.stat().st_mtime_ns == mtime
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_broken_compiler_raises(tmp_path, monkeypatch):
    cc = tmp_path / "cc"
    cc.write_text('#!/bin/sh\n[ "$1" = --version ] && echo "clang version 19.1.7" && exit 0\necho broken >&2\nexit 1\n')
    cc.chmod(0o755)
    monkeypatch.setenv("MEGAETH_CC", str(cc))
    monkeypatch.setenv("MEGAETH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(native.NativeBuildError, match="broken"):
        native.build()


# ---------------------------------------------------------------- commit_deltas / commit


@SETTINGS
@given(
    st.lists(
        st.tuples(point_index, st.lists(st.tuples(st.integers(0, 255), scalars), max_size=3)),
        min_size=1,
        max_size=3,
    )
)
def test_commit_deltas_matches_reference(nb, points, nodes):
    olds = [points[i] for i, _ in nodes]
    deltas = [ds for _, ds in nodes]
    assert nb.commit_deltas(olds, deltas) == PY.commit_deltas(olds, deltas)


def test_commit_deltas_edge_cases(nb, points):
    g0 = bw.to_bytes64(generators()[0])
    olds = [IDENTITY64, IDENTITY64, IDENTITY64, points[3], points[3], IDENTITY64, g0]
    deltas = [
        [],
        [(5, 0)],
        [(5, R - 1), (5, 1)],  # cancels to the identity
        [(0, R - 1), (255, R - 1)],
        [(17, 2**256 - 1), (17, -3)],
        [(9, 1)],
        [(0, R - 1)],  # G + (R-1)·G = identity
    ]
    got = nb.commit_deltas(olds, deltas)
    assert got == PY.commit_deltas(olds, deltas)
    assert got[0] == IDENTITY64 and got[2] == IDENTITY64 and got[6] == IDENTITY64
    assert got[5] == bw.to_bytes64(generators()[9])
    assert nb.commit_deltas([], []) == []
    with pytest.raises(IndexError):
        nb.commit_deltas([IDENTITY64], [[(256, 1)]])
    with pytest.raises(IndexError):
        nb.commit_deltas([IDENTITY64], [[(-1, 1)]])
    with pytest.raises(ValueError):
        nb.commit_deltas([IDENTITY64], [])
    with pytest.raises(bw.PointDecodeError):
        nb.commit_deltas([b"\0" * 63], [[]])


def test_commit_deltas_window_boundaries(nb):
    """Scalars whose signed digits sit on the fixed-base window edges (10-bit windows up to bit
    200, then 9-bit windows): every digit ±half, all ones, single bits at window starts."""
    offs, off = [], 0
    for w in [10] * 20 + [9] * 6:
        offs.append((off, w))
        off += w
    scalars = [
        sum((1 << (w - 1)) << o for o, w in offs[:-1]),  # every digit exactly +half
        sum(((1 << (w - 1)) + 1) << o for o, w in offs[:-1]) % R,  # every digit just past half: carries
        (1 << 200) - 1, 1 << 200, (1 << 199) + (1 << 201), (1 << 245) - 1, 1 << 245, R - 2,
        *[1 << o for o, _ in offs], *[((1 << w) - 1) << o for o, w in offs if o + w < 253],
    ]
    deltas = [[(i % 256, sc)] for i, sc in enumerate(scalars)] + [[(3, sc) for sc in scalars]]
    olds = [IDENTITY64] * len(deltas)
    assert nb.commit_deltas(olds, deltas) == PY.commit_deltas(olds, deltas)


def test_commit_deltas_threads_agree(nb, points):
    rng = random.Random(3)
    olds = [points[rng.randrange(len(points))] for _ in range(300)]
    deltas = [[(rng.randrange(256), rng.randrange(R)) for _ in range(rng.randrange(6))] for _ in olds]
    one = native.NativeBackend(threads=1).commit_deltas(olds, deltas)
    assert native.NativeBackend(threads=2).commit_deltas(olds, deltas) == one
    sample = rng.sample(range(300), 4)
    assert [one[i] for i in sample] == PY.commit_deltas([olds[i] for i in sample], [deltas[i] for i in sample])
    # Delta rule: applying deltas one node at a time gives the same as all at once.
    assert [nb.commit_deltas([olds[i]], [deltas[i]])[0] for i in sample] == [one[i] for i in sample]


@SETTINGS
@given(st.lists(scalars, max_size=6))
def test_commit_matches_reference(nb, ss):
    assert nb.commit(ss) == PY.commit(ss)


def test_commit_full_width_vs_msm(nb):
    rng = random.Random(11)
    ss = [rng.randrange(R) for _ in range(256)]
    gens = [bw.to_bytes64(g) for g in generators()]
    assert nb.commit(ss) == nb.msm(gens, ss)
    with pytest.raises(ValueError):
        nb.commit([1] * 257)


# ---------------------------------------------------------------- map_to_scalars / compress


def test_map_to_scalars_and_compress(nb, points):
    odd = [
        bytes(64),  # y = 0: inverse taken as 0 like pow(0, q-2, q)
        (Q - 1).to_bytes(32, "little") + (Q + 1).to_bytes(32, "little"),  # unreduced y
        (2**256 - 1).to_bytes(32, "little") * 2,
        bytes(32) + ((Q - 1) // 2).to_bytes(32, "little"),  # y exactly (q-1)/2: not positive
        (5).to_bytes(32, "little") + ((Q + 1) // 2).to_bytes(32, "little"),
    ]
    pts = points + odd
    assert nb.map_to_scalars(pts) == PY.map_to_scalars(pts)
    assert nb.compress_many(pts) == PY.compress_many(pts)
    assert nb.map_to_scalars([]) == [] and nb.compress_many([]) == []
    assert nb.map_to_scalars([IDENTITY64]) == [0]
    many = (points + odd[1:]) * 3  # 16 points and more go eight at a time (AVX-512 IFMA builds)
    assert nb.map_to_scalars(many) == PY.map_to_scalars(many)
    assert nb.map_to_scalars(many + odd[:1]) == PY.map_to_scalars(many + odd[:1])  # a zero y: scalar path


@SETTINGS
@given(st.lists(st.binary(min_size=64, max_size=64), min_size=1, max_size=8))
def test_map_to_scalars_arbitrary_bytes(nb, pts):
    assert nb.map_to_scalars(pts) == PY.map_to_scalars(pts)
    assert nb.compress_many(pts) == PY.compress_many(pts)


@SETTINGS
@given(st.lists(st.binary(min_size=64, max_size=64), min_size=16, max_size=70))
def test_map_to_scalars_many_arbitrary_bytes(nb, pts):
    assert nb.map_to_scalars(pts) == PY.map_to_scalars(pts)


# ---------------------------------------------------------------- decompress


def _decode(backend, data):
    try:
        return backend.decompress_many(data)
    except bw.PointDecodeError as e:
        return ("error", str(e))


def test_decompress_roundtrip(nb, points):
    comp = PY.compress_many(points)
    assert nb.decompress_many(comp) == PY.decompress_many(comp)
    assert nb.decompress_many([bytes(32)]) == [IDENTITY64]
    assert nb.decompress_many([]) == []


@SETTINGS
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=6))
def test_decompress_random_bytes(nb, data):
    assert _decode(nb, data) == _decode(PY, data)


@SETTINGS
@given(st.lists(st.integers(0, Q - 1), min_size=1, max_size=6))
def test_decompress_random_field_elements(nb, xs):
    data = [x.to_bytes(32, "big") for x in xs]
    assert _decode(nb, data) == _decode(PY, data)


def test_decompress_many_random_x(nb):
    """The square root (table-based Tonelli–Shanks) against Python's on 600 random x: about half have no
    y (non-square), a quarter are off the subgroup; the valid ones are then decoded as one batch."""
    rng = random.Random(11)
    valid = []
    for _ in range(600):
        x = rng.randrange(Q).to_bytes(32, "big")
        want = _decode(PY, [x])
        assert _decode(nb, [x]) == want
        if want[0] != "error":
            valid.append(x)
    assert len(valid) > 100
    assert nb.decompress_many(valid) == PY.decompress_many(valid)


def test_decompress_rejections(nb, points):
    good = PY.compress_many(points[:3])
    rng = random.Random(5)
    not_square = not_subgroup = None
    while not_square is None or not_subgroup is None:
        x = rng.randrange(Q)
        xx = x * x % Q
        y2 = (bw.A * xx - 1) * bw.inv((bw.D * xx - 1) % Q) % Q
        if bw.legendre(y2) != 1:
            not_square = not_square or x.to_bytes(32, "big")
        elif bw.legendre((1 - bw.A * xx) % Q) != 1:
            not_subgroup = not_subgroup or x.to_bytes(32, "big")
    cases = {
        "x = q": Q.to_bytes(32, "big"),
        "x = 2^256-1": b"\xff" * 32,
        "non-square": not_square,
        "not in subgroup": not_subgroup,
        "short": b"\x01" * 31,
    }
    for name, bad in cases.items():
        for pos in (0, 2):
            data = list(good)
            data.insert(pos, bad)
            data.append(not_subgroup)  # a later bad point must not mask the first
            want = _decode(PY, data)
            assert want[0] == "error", name
            assert _decode(nb, data) == want, name
    with pytest.raises(bw.PointDecodeError, match="point 1: point is not in the Banderwagon subgroup"):
        nb.decompress_many([good[0], not_subgroup])


# ---------------------------------------------------------------- msm


@SETTINGS
@given(st.lists(st.tuples(point_index, scalars), max_size=5))
def test_msm_matches_reference(nb, points, terms):
    pts = [points[i] for i, _ in terms]
    ss = [s for _, s in terms]
    assert nb.msm(pts, ss) == PY.msm(pts, ss)


def test_msm_larger_and_threaded(nb, points):
    rng = random.Random(9)
    idx = [rng.randrange(len(points)) for _ in range(70)]
    pts = [points[i] for i in idx]
    ss = [rng.randrange(R) for _ in idx]
    ss[3], ss[4], ss[5] = 0, R - 1, 1
    pts[6] = pts[7]  # repeated point in one call
    want = PY.msm(pts, ss)
    assert native.NativeBackend(threads=1).msm(pts, ss) == want
    assert native.NativeBackend(threads=2).msm(pts, ss) == want
    # P + (R-1)·P = identity
    assert nb.msm([points[0], points[0]], [1, R - 1]) == IDENTITY64
    assert nb.msm([], []) == IDENTITY64
    with pytest.raises(ValueError):
        nb.msm([points[0]], [])


def test_msm_large_vs_fixed_base(nb):
    """800 terms over the generators: Pippenger agrees with the fixed-base tables."""
    rng = random.Random(13)
    gens = [bw.to_bytes64(g) for g in generators()]
    idx = [rng.randrange(256) for _ in range(800)]
    ss = [rng.randrange(R) for _ in idx]
    want = nb.commit_deltas([IDENTITY64], [list(zip(idx, ss, strict=True))])[0]
    assert nb.msm([gens[i] for i in idx], ss) == want


def test_msm_long_buckets_vs_fixed_base(nb):
    """6,000 terms, half with scalars 1–3 (whose digits all land in three buckets of the lowest window):
    buckets of more than one task's worth of additions (split across lanes and summed back), on one and
    two threads, against the fixed-base tables."""
    rng = random.Random(14)
    gens = [bw.to_bytes64(g) for g in generators()]
    idx = [rng.randrange(256) for _ in range(6000)]
    ss = [rng.randrange(1, 4) if k % 2 else rng.randrange(R) for k in range(len(idx))]
    want = nb.commit_deltas([IDENTITY64], [list(zip(idx, ss, strict=True))])[0]
    points = [gens[i] for i in idx]
    assert native.NativeBackend(threads=1).msm(points, ss) == want
    assert native.NativeBackend(threads=2).msm(points, ss) == want


def test_decompress_threaded_first_error(points):
    comp = PY.compress_many(points) * 3  # 84 points: both threads get work
    bad = b"\xff" * 32
    two = native.NativeBackend(threads=2)
    assert two.decompress_many(comp) == native.NativeBackend(threads=1).decompress_many(comp)
    for first, second in ((10, 70), (70, 80), (50, 5)):
        data = list(comp)
        data[first] = bad
        data[second] = Q.to_bytes(32, "big")
        with pytest.raises(bw.PointDecodeError, match=f"^point {min(first, second)}: "):
            two.decompress_many(data)


def test_portable_build_matches(points):
    """The plain-C field arithmetic (used when -march=native / mulx+adx are unavailable)."""
    try:
        pb = native.NativeBackend(portable=True)
    except native.NativeBuildError as e:  # pragma: no cover
        pytest.skip(f"C backend unavailable: {e}")
    comp = PY.compress_many(points)
    assert pb.decompress_many(comp) == PY.decompress_many(comp)
    assert pb.map_to_scalars(points) == PY.map_to_scalars(points)
    rng = random.Random(17)
    ss = [rng.randrange(R) for _ in points]
    assert pb.msm(points, ss) == native.NativeBackend().msm(points, ss)
    assert pb.commit([KV_NONE] * 256) == EMPTY_DATA_BUCKET


def test_msm_widest_window_digit(nb):
    """614,401 terms make the plain-C cost model pick its widest window; a scalar whose window digit is
    +2^(c−1) must keep its sign (the digits are int16_t: c = 16 turned 2^15 into −2^15)."""
    try:
        pb = native.NativeBackend(portable=True)
    except native.NativeBuildError as e:  # pragma: no cover
        pytest.skip(f"C backend unavailable: {e}")
    g = bw.to_bytes64(generators()[0])
    n = 614_401
    assert pb.msm([g] * n, [1 << 15] + [0] * (n - 1)) == nb.msm([g], [1 << 15])


def test_commit_deltas_native_matches_portable(nb, points):
    """Fixed-base additions (eight lanes with AVX-512 IFMA where the CPU has it, nodes cut into
    tasks) equal the one-at-a-time plain-C ones: nodes of 0–40 deltas, a lone node of 300 deltas,
    scalars 0, 1, r − 1 and random."""
    try:
        pb = native.NativeBackend(portable=True)
    except native.NativeBuildError as e:  # pragma: no cover
        pytest.skip(f"C backend unavailable: {e}")
    rng = random.Random(23)
    special = [0, 1, R - 1, 2**128, (1 << 252) + 12345]
    deltas = [[(rng.randrange(256), rng.choice(special) if rng.random() < 0.2 else rng.randrange(R))
               for _ in range(rng.choice([0, 1, 2, 9, 40]))] for _ in range(60)]
    olds = [points[rng.randrange(24)] for _ in deltas]
    assert nb.commit_deltas(olds, deltas) == pb.commit_deltas(olds, deltas)
    lone = [[(rng.randrange(256), rng.randrange(R)) for _ in range(300)]]
    assert nb.commit_deltas(points[:1], lone) == pb.commit_deltas(points[:1], lone)
    assert nb.commit_deltas(olds[:3], deltas[:3]) == PY.commit_deltas(olds[:3], deltas[:3])


def _commit_in_child(conn, olds, deltas) -> None:  # type: ignore[no-untyped-def]
    conn.send(native.NativeBackend(threads=2).commit_deltas(olds, deltas))


def _in_forked_child(target, args: tuple, timeout: float, hang: str) -> object:  # type: ignore[no-untyped-def]
    """What `target(conn, *args)` sends from a forked child; fails with `hang` if nothing comes in time."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        pytest.skip("no fork on this platform")
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, *args))
    proc.start()
    try:
        assert parent.poll(timeout), hang
        got = parent.recv()
        proc.join(10)
        assert proc.exitcode == 0
        return got
    finally:
        proc.kill()


def test_worker_pool_survives_fork(nb, points):
    """A child forked after the C worker pool started gets a fresh pool (no deadlock, same result)."""
    rng = random.Random(29)
    deltas = [[(rng.randrange(256), rng.randrange(R)) for _ in range(3)] for _ in range(200)]
    olds = [points[i % 24] for i in range(200)]
    want = native.NativeBackend(threads=2).commit_deltas(olds, deltas)  # parallel: pool workers start
    assert _in_forked_child(_commit_in_child, (olds, deltas), 60, "forked child hung in the C worker pool") == want


def _empty_leaves_job() -> int:
    ffi, lib = native.library()
    z = ffi.new("uint8_t[64]")
    job = lib.salt_leaves_start(0, ffi.NULL, z, ffi.NULL, ffi.NULL, ffi.NULL, ffi.NULL, 0, z, z, z, 1)
    ec = ffi.new("uint64_t *")
    return lib.salt_leaves_wait(job, ec)


def _leaves_jobs_in_child(conn) -> None:  # type: ignore[no-untyped-def]
    conn.send([_empty_leaves_job() for _ in range(20)])


def test_leaves_queue_survives_fork(nb):
    """A child forked while the leaves thread idles on its condition gets a fresh queue, lock and condition
    (a copied condition could still count the parent's waiter, and the child's wait then never woke; that
    depends on timing, so several children are forked)."""
    import time

    want = [_empty_leaves_job() for _ in range(20)]
    for _ in range(16):
        _empty_leaves_job()
        time.sleep(0.05)  # the queue's thread is now waiting for work
        assert _in_forked_child(_leaves_jobs_in_child, (), 10, "forked child hung waiting for a leaves job") == want


# ---------------------------------------------------------------- hashing and the trie-update entry points


def test_blake3_and_ahash_match_reference(nb):
    from blake3 import blake3

    from salt.hasher import ahash

    rng = random.Random(5)
    inputs = [rng.randbytes(n) for n in [*range(0, 140), 191, 192, 193, 255, 256, 257, 640, 1023, 1024]]
    assert nb.blake3_many(inputs) == [blake3(x).digest() for x in inputs]
    assert nb.ahash_many(inputs) == [ahash(x) for x in inputs] == PY.ahash_many(inputs)
    for nonce in (0, 1, 0xFFFFFFFF):
        assert nb.ahash_many(inputs, nonce) == PY.ahash_many(inputs, nonce)
    with pytest.raises(ValueError):
        nb.blake3_many([bytes(1025)])


def _salt_value(rng: random.Random):
    from salt.types import SaltValue

    return SaltValue(rng.randbytes(rng.choice([0, 12, 20, 52])), rng.randbytes(rng.choice([0, 32, 40, 72])))


def test_commit_slot_deltas_matches_reference(nb, points):
    rng = random.Random(9)
    counts = [3, 0, 1, 5, 2]
    olds = [points[i] for i in range(len(counts))]
    changes = [
        (None if rng.random() < 0.3 else _salt_value(rng), None if rng.random() < 0.3 else _salt_value(rng))
        for _ in range(sum(counts))
    ]
    slots = bytes(rng.randrange(256) for _ in changes)
    assert nb.commit_slot_deltas(olds, counts, slots, changes) == PY.commit_slot_deltas(olds, counts, slots, changes)
    with pytest.raises(ValueError):
        nb.commit_slot_deltas(olds, [1], slots, changes)


def test_propagate_main_matches_reference(nb, points):
    from salt.trie import default_commitment
    from salt.types import main_ancestors

    rng = random.Random(13)
    s3 = 65793
    ids = sorted({s3 + b for b in [0, 1, 255, 256, 70000, 70001, 16_000_000, *rng.sample(range(1 << 24), 20)]})
    olds = [default_commitment(i) for i in ids]
    news = [points[rng.randrange(24)] for _ in ids]
    news[1] = olds[1]  # an unchanged child: no delta
    anc = main_ancestors(ids)
    anc_olds = [points[rng.randrange(24)] for _ in anc]
    got = nb.propagate_main(ids, olds, news, anc_olds)
    assert got == PY.propagate_main(ids, olds, news, anc_olds)
    assert got[1] >= len(ids) - 1
    # one unchanged leaf only: ancestors keep their commitments, no EC work
    one = anc_olds[: len(main_ancestors(ids[1:2]))]
    assert nb.propagate_main(ids[1:2], olds[1:2], olds[1:2], one) == (one, 0)
    for bad_ids, bad_anc in ((ids[::-1], anc_olds), (ids, anc_olds[:-1]), (ids, [*anc_olds, anc_olds[0]]), ([5], anc_olds[:3])):
        with pytest.raises(ValueError):
            nb.propagate_main(bad_ids, olds[: len(bad_ids)], news[: len(bad_ids)], bad_anc)


def test_leaves_to_level1_matches_reference(nb, points):
    """Leaf commits + levels 3 → 1 on a C thread == the reference (§5.1), several jobs in flight."""
    from salt.types import main_ancestors

    rng = random.Random(21)
    jobs = []
    for n in (1, 7, 300):
        ids = sorted({65793 + rng.randrange(65536, 1 << 24) for _ in range(n)})
        counts = [rng.randrange(1, 4) for _ in ids]
        olds = [points[rng.randrange(24)] for _ in ids]
        changes = [(_salt_value(rng), None if rng.random() < 0.3 else _salt_value(rng)) for _ in range(sum(counts))]
        slots = bytes(rng.randrange(256) for _ in changes)
        anc_olds = [points[rng.randrange(24)] for _ in main_ancestors(ids, 1)]
        args = (ids, olds, counts, slots, changes, anc_olds)
        jobs.append((nb.leaves_to_level1(*args), PY.leaves_to_level1(*args)))
    for got, want in jobs:
        assert got() == want()
    wait = nb.leaves_to_level1([65793 + 5, 65793], [points[0]] * 2, [1, 1], b"\0\1", [(None, None)] * 2, [points[1]] * 3)
    with pytest.raises(ValueError):  # ids not ascending
        wait()


def test_leaves_to_level1_flat_and_root_match_reference(nb, points):
    """Leaf commits + levels 3 → 1 with the ancestors read from a level 0–2 buffer, and the root
    from the changed level-1 nodes, == the reference (§5.1); jobs in flight together; an unchanged
    leaf leaves its ancestors out; bad ids raise."""
    rng = random.Random(23)
    nodes012 = bytearray(b"".join(points[rng.randrange(24)] for _ in range(65793)))
    nodes012 = bytes(nodes012)
    jobs = []
    for n in (1, 7, 120, 300):
        ids = sorted({65793 + rng.randrange(1 << 24) for _ in range(n)})
        counts = [1] + [rng.randrange(1, 4) for _ in ids[1:]]
        olds = [points[rng.randrange(24)] for _ in ids]
        changes = [(_salt_value(rng), None if rng.random() < 0.3 else _salt_value(rng))
                   for _ in range(sum(counts))]
        if n == 7:  # an unchanged leaf (its one change a no-op)
            changes[0] = (changes[0][0], changes[0][0])
        slots = bytes(rng.randrange(256) for _ in changes)
        args = (ids, olds, counts, slots, changes, nodes012)
        jobs.append((nb.leaves_to_level1_flat(*args, n != 300), PY.leaves_to_level1_flat(*args)))
    for got, want in jobs:
        g, w = got(), want()
        assert g == w
        news, anc, anc_news, partial, _ = g
        level1 = [(a, c) for a, c in zip(anc, anc_news) if a < 257]
        assert level1 and all(a >= 257 for a in anc[: len(anc) - len(level1)])
        l1_ids, l1_news = [a for a, _ in level1], [c for _, c in level1]
        root = nb.root_from_level1(nodes012, l1_ids, l1_news)
        assert root == PY.root_from_level1(nodes012, l1_ids, l1_news)
        # the job's partial sum gives the same root, alone or as the sum over two halves of the nodes
        assert nb.root_from_level1(nodes012, [], [], [partial]) == root
        from_identity = bytes(32) + (1).to_bytes(32, "little") + nodes012[64:]  # old root: the identity
        half = len(l1_ids) // 2
        halves = [nb.root_from_level1(from_identity, l1_ids[:half], l1_news[:half]),
                  nb.root_from_level1(from_identity, l1_ids[half:], l1_news[half:])]
        assert halves[0] == PY.root_from_level1(from_identity, l1_ids[:half], l1_news[:half])
        for be in (nb, PY):
            assert be.root_from_level1(nodes012, l1_ids[half:], l1_news[half:], halves[:1]) == root
            assert be.root_from_level1(nodes012, [], [], halves) == root
    assert nb.root_from_level1(nodes012, [], []) == nodes012[:64]
    # a leaf whose only change is a no-op: nothing above it changes
    noop = ([65793 + 9], [points[0]], [1], b"\5", [(_salt_value(rng),) * 2], nodes012)
    one = nb.leaves_to_level1_flat(*noop)()
    assert one[:3] + one[4:] == ([points[0]], [], [], 0)
    assert one == PY.leaves_to_level1_flat(*noop)()  # the partial sum: the identity
    for bad in ([65793 + 5, 65793], [5], [65793 + (1 << 24)]):
        wait = nb.leaves_to_level1_flat(bad, [points[0]] * len(bad), [1] * len(bad), bytes(len(bad)),
                                        [(None, None)] * len(bad), nodes012)
        with pytest.raises(ValueError):
            wait()
        with pytest.raises(ValueError):
            PY.leaves_to_level1_flat(bad, [points[0]] * len(bad), [1] * len(bad), bytes(len(bad)),
                                     [(None, None)] * len(bad), nodes012)
    for bad_l1 in ([2, 1], [0], [257]):
        with pytest.raises(ValueError):
            nb.root_from_level1(nodes012, bad_l1, [points[1]] * len(bad_l1))
        with pytest.raises(ValueError):
            PY.root_from_level1(nodes012, bad_l1, [points[1]] * len(bad_l1))


def test_id_bitmap_matches_reference(nb):
    """Bits of the ids in range set (ends included, others ignored), as the reference sets them."""
    rng = random.Random(5)
    ids = [1000, 1000 + 4095, 999, 1000 + 4096, 0, (1 << 64) - 1]
    ids += [1000 + rng.randrange(4096) for _ in range(300)]
    packed = b"".join(i.to_bytes(8, "big") for i in ids)
    got = nb.id_bitmap(packed, 1000, 4096)
    assert got == PY.id_bitmap(packed, 1000, 4096)
    assert len(got) == 512 and got[0] & 1 and got[511] >> 7
    assert sum(bin(x).count("1") for x in got) == len({i for i in ids if 1000 <= i < 5096})
    assert nb.id_bitmap(b"", 0, 9) == bytes(2)
    with pytest.raises(ValueError):
        nb.id_bitmap(b"\0" * 7, 0, 8)


def test_prover_scalar_field_ops_match_reference(nb):
    from salt.ipa import _barycentric

    aprime, inv_aprime, inv_small = _barycentric()
    rng = random.Random(17)
    zs = [0, 255, 7, 128, 3]
    vectors = [[rng.randrange(R) for _ in range(256)] for _ in zs]
    vectors[1] = [R - 1] * 256
    packed = b"".join(x.to_bytes(32, "little") for f in vectors for x in f)
    args = (packed, bytes(zs), inv_small, aprime, inv_aprime)
    assert nb.fr_quotient_sum(*args) == PY.fr_quotient_sum(*args)
    coefs = [rng.randrange(R) for _ in zs[:-1]] + [R - 1]
    assert nb.fr_combine(packed, coefs) == PY.fr_combine(packed, coefs)
    assert nb.fr_quotient_sum(b"", b"", inv_small, aprime, inv_aprime) == [0] * 256
    for be in (nb, PY):
        with pytest.raises(ValueError):
            be.fr_combine(packed, coefs[:-1])


def test_quotient_constant_sums_match_their_definition():
    """ipa's closed form of s_z = Σ_{j≠z} 1/(A'(j)·(j − z)) equals the sum itself."""
    from salt.ipa import _barycentric, _quotient_constants

    _, inv_aprime, inv_small = _barycentric()
    direct = [
        sum(inv_aprime[j] * (inv_small[j - z] if j > z else R - inv_small[z - j]) for j in range(256) if j != z) % R
        for z in range(256)
    ]
    assert list(_quotient_constants()[3]) == direct


def test_prover_sparse_sums_match_reference(nb):
    """fr_quotient_sparse / fr_combine_sparse (sparse node vectors, in C) give the reference's scalars:
    ipa._aggregate_reference summed by PythonBackend.fr_quotient_sum / fr_combine."""
    from salt.ipa import Queries, _aggregate_reference, _barycentric, _quotient_constants, _sparse

    aprime, inv_aprime, inv_small = _barycentric()
    rng = random.Random(23)
    for n_nodes, n_queries in [(1, 1), (4, 30), (60, 400)]:
        vectors = []
        for _ in range(n_nodes):
            c = rng.choice([0, R - 1, rng.randrange(R)])
            f = [c] * 256
            for j in rng.sample(range(256), rng.choice([0, 1, 64, 65, 200, 256])):
                f[j] = rng.randrange(R)
            vectors.append(f)
        node = [rng.randrange(n_nodes) for _ in range(n_queries)]
        zs = [rng.choice([0, 255, rng.randrange(256)]) for _ in range(n_queries)]
        r, zcoefs = rng.randrange(R), [rng.randrange(R) for _ in range(256)]
        sparse = [_sparse(f) for f in vectors]
        distinct, packed = _aggregate_reference(Queries([b""] * n_nodes, [b""] * n_nodes, node, zs, [0] * n_queries), vectors, r)
        want = PY.fr_quotient_sum(packed, distinct, inv_small, aprime, inv_aprime)
        assert nb.fr_quotient_sparse(sparse, node, zs, r, _quotient_constants()) == want
        want = PY.fr_combine(packed, [zcoefs[z] for z in distinct])
        assert nb.fr_combine_sparse(sparse, node, zs, r, zcoefs) == want
    assert nb.fr_quotient_sparse([], [], [], 5, _quotient_constants()) == [0] * 256
    with pytest.raises(ValueError):
        nb.fr_combine_sparse([_sparse([1] * 256)], [1], [0], 5, zcoefs)


def test_large_trie_update_threads_agree():
    """A batch big enough for the threaded slot hashing and map_to_scalars (≥ 512 deltas, ≥ 1024
    points per level): the same commitments on 1 and 2 threads, and as one batch or two halves."""
    from salt.shi import StateUpdates
    from salt.trie import default_commitment, update_trie
    from salt.types import SaltValue

    class Empty:
        def node(self, node_id):
            return default_commitment(node_id)

    rng = random.Random(5)
    data = {}
    for _ in range(3000):
        key = rng.randrange(65536, 1 << 24) << 40 | rng.randrange(256)
        old = None if rng.random() < 0.5 else SaltValue(rng.randbytes(rng.choice([20, 52])), rng.randbytes(32))
        data[key] = (old, SaltValue(rng.randbytes(52), rng.randbytes(rng.randrange(0, 40))))
    ups = StateUpdates(data)
    one = update_trie(Empty(), ups, lambda _b: 256, native.NativeBackend(threads=1))
    two = update_trie(Empty(), ups, lambda _b: 256, native.NativeBackend(threads=2))
    assert one == two and len(one.nodes) > 3000


def test_lone_node_split_over_threads():
    """A single node with many deltas (the root) is summed in per-thread parts: same commitment on
    1 and 2 threads and as the reference, including parts that cancel to the identity."""
    rng = random.Random(9)
    one, two = native.NativeBackend(threads=1), native.NativeBackend(threads=2)
    start = bw.to_bytes64(generators()[4])
    ds = [(rng.randrange(256), rng.randrange(R)) for _ in range(150)]
    cancel = ds + [(i, -s) for i, s in ds]  # the second half undoes the first
    for deltas in (ds, cancel, ds[:128], [(7, 1)] * 300):
        got = two.commit_deltas([start], [deltas])
        assert got == one.commit_deltas([start], [deltas])
    assert two.commit_deltas([start], [cancel]) == [start]
    assert two.commit_deltas([IDENTITY64], [cancel]) == [IDENTITY64]
    assert two.commit_deltas([start], [ds[:130]]) == PY.commit_deltas([start], [ds[:130]])
    assert two.commit(list(range(256))) == PY.commit(list(range(256)))


@SETTINGS
@given(st.lists(st.integers(0, (1 << 24) - 1) | st.sampled_from([65536, 65537, (1 << 24) - 1]), max_size=300))
def test_order_by_bucket_is_a_stable_sort(nb, buckets):
    order, ordered = nb.order_by_bucket(buckets)
    expect = sorted(range(len(buckets)), key=buckets.__getitem__)
    assert list(order) == expect and list(ordered) == [buckets[i] for i in expect]
    with pytest.raises(ValueError):
        nb.order_by_bucket([*buckets, 1 << 24])


# ---------------------------------------------------------------- verifier sums (§6.4)


@SETTINGS
@given(st.integers(1, 40), st.lists(st.tuples(st.integers(0, 39), st.integers(0, 255), scalars), max_size=60),
       scalars, st.integers(256, R - 1))
def test_verify_sums_match_reference(nb, n_points, queries, r, t):
    from salt.ipa import Queries, verify_sums_reference

    queries = [(n % n_points, z, y) for n, z, y in queries]
    q = Queries([b""] * n_points, [b""] * n_points, [n for n, _, _ in queries], [z for _, z, _ in queries],
                [y for _, _, y in queries])
    assert nb.fr_verify_sums(q.node, q.z, q.y, n_points, r, t) == verify_sums_reference(q, r, t)


def test_verify_sums_rejects_a_node_out_of_range(nb):
    with pytest.raises(ValueError, match="query node"):
        nb.fr_verify_sums([0, 3], [1, 2], [5, 6], 3, 7, 1000)


@SETTINGS
@given(st.integers(256, R - 1), st.lists(scalars, min_size=8, max_size=8), scalars)
def test_verify_final_matches_reference(nb, t, xs, a):
    from salt.ipa import _barycentric, verify_final_reference

    assert nb.fr_verify_final(t, xs, a, _barycentric()[1]) == verify_final_reference(t, xs, a)
    xs[3] = 0  # a zero challenge: every inverse is 0 in both
    assert nb.fr_verify_final(t, xs, a, _barycentric()[1]) == verify_final_reference(t, xs, a)
