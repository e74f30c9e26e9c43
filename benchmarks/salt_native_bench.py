"""Micro-benchmark of the SALT C backend (salt.native): run `python benchmarks/salt_native_bench.py`.

Reports: table build time, ns per fixed-base scalar multiplication (commit_deltas with many single
deltas, C time and end-to-end with Python packing), commit_deltas throughput for 10k deltas spread
over nodes like a leaf level, MSM of 800 points, decompress_many of 760 points, map_to_scalars.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from salt import banderwagon as bw  # noqa: E402
from salt.native import NativeBackend  # noqa: E402


CPU: list[float] = []


def best(fn, repeat: int) -> float:
    """Best wall time; the matching process CPU time (all threads) is appended to CPU.

    On a shared machine wall time includes waiting for a core: compare with the CPU figure.
    """
    times = []
    for _ in range(repeat):
        c = time.process_time()
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t, time.process_time() - c))
    wall, cpu = min(times)
    CPU.append(cpu)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(42)
    nb = NativeBackend(threads=args.threads)
    t = time.perf_counter()
    from salt.crs import generators

    generators()
    t_crs = time.perf_counter() - t
    t = time.perf_counter()
    nb.warm()
    print(f"threads={nb.threads}  CRS (Python) {t_crs * 1e3:.0f} ms  tables {(time.perf_counter() - t) * 1e3:.0f} ms")

    ident = bw.to_bytes64(bw.IDENTITY)
    # Fixed-base multiplication: N nodes with one delta each.
    n = 20000
    olds = [ident] * n
    deltas = [[(rng.randrange(256), rng.randrange(bw.R))] for _ in range(n)]
    for threads in sorted({1, nb.threads}):
        b = NativeBackend(threads=threads)
        dt = best(lambda b=b: b.commit_deltas(olds, deltas), args.repeat)
        print(f"fixed-base mul, {n} single-delta nodes, {threads} thr: {dt / n * 1e9:.0f} ns/mul wall end-to-end (cpu {CPU[-1] / n * 1e9:.0f})")
    # Same work, one node with all deltas (one normalisation).
    one = [[d[0] for d in deltas]]
    dt = best(lambda: nb.commit_deltas([ident], one), args.repeat)
    print(f"fixed-base mul, 1 node × {n} deltas: {dt / n * 1e9:.0f} ns/mul wall end-to-end (cpu {CPU[-1] / n * 1e9:.0f})")

    # Leaf-like level: 10k deltas over 2,500 nodes.
    m, nodes = 10000, 2500
    olds = [bw.to_bytes64(bw.mul(bw.from_affine(*bw.affine(generators()[i % 256])), i + 1)) for i in range(nodes)]
    deltas = [[] for _ in range(nodes)]
    for _ in range(m):
        deltas[rng.randrange(nodes)].append((rng.randrange(256), rng.randrange(bw.R)))
    dt = best(lambda: nb.commit_deltas(olds, deltas), args.repeat)
    print(f"commit_deltas {m} deltas / {nodes} nodes: {dt * 1e3:.2f} ms wall = {m / dt:,.0f} deltas/s (cpu {CPU[-1] * 1e3:.2f} ms)")

    pts = [bw.to_bytes64(bw.mul(generators()[i % 256], i + 7)) for i in range(800)]
    sc = [rng.randrange(bw.R) for _ in pts]
    for threads in sorted({1, nb.threads}):
        b = NativeBackend(threads=threads)
        dt = best(lambda b=b: b.msm(pts, sc), args.repeat)
        print(f"msm 800 points, {threads} thr: {dt * 1e3:.2f} ms wall (cpu {CPU[-1] * 1e3:.2f} ms)")
    comp = nb.compress_many(pts[:760])
    for threads in sorted({1, nb.threads}):
        b = NativeBackend(threads=threads)
        dt = best(lambda b=b: b.decompress_many(comp), args.repeat)
        print(f"decompress_many 760 points, {threads} thr: {dt * 1e3:.2f} ms wall (cpu {CPU[-1] * 1e3:.2f} ms)")
    big = pts * 13
    dt = best(lambda: nb.map_to_scalars(big), args.repeat)
    print(f"map_to_scalars {len(big)} points: {dt / len(big) * 1e9:.0f} ns/point")
    dt = best(lambda: nb.compress_many(big), args.repeat)
    print(f"compress_many {len(big)} points: {dt / len(big) * 1e9:.0f} ns/point")
    dt = best(lambda: nb.commit([rng.randrange(bw.R) for _ in range(256)]), args.repeat)
    print(f"commit 256 scalars: {dt * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
