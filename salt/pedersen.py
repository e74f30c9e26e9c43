"""Batch Pedersen/Banderwagon operations on 64-byte commitments: the API every SALT caller uses.

Two implementations with the same functions: `PythonBackend` (reference, `salt.banderwagon`) and
the C backend in `salt.native`. `backend()` returns the C one when it builds and loads, else the
reference; `MEGAETH_SALT_BACKEND=python` forces the reference. Commitments are the 64-byte
"CommitmentBytes" form (x LE ‖ y LE, positive y); scalars are ints (reduced mod R by callers).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import cache
from typing import Protocol

from salt import banderwagon as bw
from salt.crs import generators

Delta = tuple[int, int]  # (generator index 0..255, scalar)


class Backend(Protocol):
    name: str

    def commit_deltas(self, olds: Sequence[bytes], deltas: Sequence[Sequence[Delta]]) -> list[bytes]:
        """For each node i: C_i + Σ s·G[idx] over deltas[i], as 64-byte commitments."""
        ...

    def commit(self, scalars: Sequence[int]) -> bytes:
        """Σ scalars[i]·G[i] (len ≤ 256) as a 64-byte commitment."""
        ...

    def map_to_scalars(self, commitments: Sequence[bytes]) -> list[int]:
        """map_to_scalar of each 64-byte commitment."""
        ...

    def decompress_many(self, compressed: Sequence[bytes]) -> list[bytes]:
        """32-byte compressed → 64-byte commitments; raise bw.PointDecodeError naming the index."""
        ...

    def compress_many(self, commitments: Sequence[bytes]) -> list[bytes]:
        """64-byte commitments → 32-byte compressed."""
        ...

    def msm(self, points: Sequence[bytes], scalars: Sequence[int]) -> bytes:
        """Σ scalars[i]·points[i] over arbitrary 64-byte points."""
        ...


class PythonBackend:
    """Reference implementation on Python integers."""

    name = "python"

    def commit_deltas(self, olds: Sequence[bytes], deltas: Sequence[Sequence[Delta]]) -> list[bytes]:
        g = generators()
        out = []
        for old, ds in zip(olds, deltas, strict=True):
            acc = bw.from_bytes64(old)
            for idx, s in ds:
                acc = bw.add(acc, bw.mul(g[idx], s))
            out.append(bw.to_bytes64(acc))
        return out

    def commit(self, scalars: Sequence[int]) -> bytes:
        return bw.to_bytes64(bw.msm(generators()[: len(scalars)], scalars))

    def map_to_scalars(self, commitments: Sequence[bytes]) -> list[int]:
        return [bw.map_bytes64_to_scalar(c) for c in commitments]

    def decompress_many(self, compressed: Sequence[bytes]) -> list[bytes]:
        out = []
        for i, c in enumerate(compressed):
            try:
                out.append(bw.to_bytes64(bw.decompress(c)))
            except bw.PointDecodeError as e:
                raise bw.PointDecodeError(f"point {i}: {e}") from e
        return out

    def compress_many(self, commitments: Sequence[bytes]) -> list[bytes]:
        return [bw.compress(bw.from_bytes64(c)) for c in commitments]

    def msm(self, points: Sequence[bytes], scalars: Sequence[int]) -> bytes:
        return bw.to_bytes64(bw.msm([bw.from_bytes64(p) for p in points], scalars))


@cache
def backend() -> Backend:
    """The fastest available backend: C unless it cannot build (then the reference, with a warning).

    `MEGAETH_SALT_BACKEND=python` forces the reference; `=native` forces C (errors propagate).
    """
    choice = os.environ.get("MEGAETH_SALT_BACKEND", "").lower()
    if choice == "python":
        return PythonBackend()
    try:
        from salt.native import NativeBackend

        return NativeBackend()
    except Exception as e:  # NativeBuildError, missing cffi, dlopen failure
        if choice == "native":
            raise
        logging.getLogger(__name__).warning(
            "SALT C backend unavailable, using the slow pure-Python reference: %s", e
        )
        return PythonBackend()
