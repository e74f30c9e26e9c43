"""C backend for the batch Pedersen/Banderwagon API of `salt.pedersen` (spec/salt.md §3, §4, §9).

The C source lives in `salt/native/` and is compiled on first use into a cache directory
(`$MEGAETH_CACHE_DIR`, else `~/.cache/megaeth-node`), under a file name keyed by a hash of the source,
the compiler and the flags; it is loaded with cffi in ABI mode (`dlopen`). The compiler is the one all of
the project's C goes through (`aot.toolchain`: `$MEGAETH_CC`, else clang >= 16, else zig cc). When no
compiler is found or the build fails, `NativeBuildError` is raised (never a silent fallback).

Every API call is one C call on packed buffers. `commit_deltas`/`commit` use fixed-base tables of
the 256 CRS generators (20 windows of 10 bits and 6 of 9 bits: ≈289 MB, built once per process on
first use; 26 mixed additions per multiplication instead of 29 with 9-bit windows in 182 MB). On
CPUs with AVX-512 IFMA (`-march=native` builds) the table additions run eight at a time.
`leaves_to_level1` (and `leaves_to_level1_flat`, which also finds the ancestors and the job's part
of the root update) queues its work for a C thread (no GIL), so Python work can go on meanwhile.
`shi_flat` runs the SHI bucket-table operations of flat buckets (`native/shi.c`).
"""

from __future__ import annotations

import hashlib
import os
import platform
import tempfile
import threading
from array import array
from collections.abc import Callable, Sequence
from typing import Any
from functools import cache
from itertools import accumulate, chain
from operator import add
from pathlib import Path

from aot import toolchain
from aot.build import BuildError, cache_dir, run_compiler
from aot.toolchain import Compiler

from salt import banderwagon as bw
from salt.constants import STARTING_NODE_ID
from salt.pedersen import PackedChanges, SlotChange

__all__ = ["NativeBackend", "NativeBuildError", "PackedOps", "build", "library", "default_threads"]

SOURCE_DIR = Path(__file__).resolve().with_name("native")
SOURCES = ("banderwagon.c", "hashes.c", "shi.c")
HEADERS = ("banderwagon.h", "salt_internal.h")
ABI_VERSION = 13
COMMON_FLAGS = ("-O3", "-fPIC", "-shared", "-std=gnu11", "-fno-strict-aliasing")
NATIVE_FLAGS = ("-march=native", "-mtune=native")
LINK_FLAGS = ("-lpthread",)
COMPILE_TIMEOUT_S = 300.0

_R = bw.R
_ERRORS = {
    1: "x coordinate is not canonical (>= q)",
    2: "x has no curve point",
    3: "x has no curve point (y^2 is not a square)",
    4: "point is not in the Banderwagon subgroup",
}


class NativeBuildError(RuntimeError):
    """The C backend could not be compiled or loaded."""


def find_compiler() -> Compiler:
    """The discovered compiler (`aot.toolchain.find_compiler`); NativeBuildError when there is none."""
    try:
        return toolchain.find_compiler()
    except toolchain.ToolchainError as e:
        raise NativeBuildError(str(e)) from e


@cache
def _cpu_id() -> str:
    """Identifies the host CPU for -march=native builds (a cache dir may be shared by machines)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return platform.machine() + ":" + hashlib.sha256(line.encode()).hexdigest()[:16]
    except OSError:
        pass
    return platform.machine() + ":" + platform.processor()


def _source_bytes() -> bytes:
    try:
        return b"".join((SOURCE_DIR / name).read_bytes() for name in (*HEADERS, *SOURCES))
    except OSError as e:
        raise NativeBuildError(f"C sources missing in {SOURCE_DIR}: {e}") from e


def _compile(cc: Compiler, flags: tuple[str, ...], dest: Path) -> str | None:
    """Compile to a temporary file next to `dest`, then rename atomically; the compiler's message on failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.stem}.", suffix=".so.tmp", dir=dest.parent)
    os.close(fd)
    cmd = [*cc.argv, *flags, "-I", str(SOURCE_DIR), "-o", tmp, *(str(SOURCE_DIR / s) for s in SOURCES), *LINK_FLAGS]
    try:
        run_compiler(cmd, COMPILE_TIMEOUT_S)
        os.replace(tmp, dest)
        return None
    except (BuildError, OSError) as e:
        return str(e)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def build(*, force: bool = False, portable: bool = False) -> Path:
    """Path of the compiled shared library, compiling it if it is not cached yet.

    Tries `-march=native` first (enables the mulx/adx field multiplication on x86-64), then
    portable flags (plain C arithmetic); `portable=True` builds only the latter.
    """
    cc = find_compiler()
    src = _source_bytes()
    errors = []
    for extra in ((),) if portable else (NATIVE_FLAGS, ()):
        flags = (*COMMON_FLAGS, *extra)
        h = hashlib.sha256()
        for part in (src, "\0".join(cc.argv).encode(), cc.version_text.encode(), " ".join(flags).encode()):
            h.update(part)
            h.update(b"\0")
        if extra:
            h.update(_cpu_id().encode())
        dest = cache_dir() / f"salt_native-{h.hexdigest()[:20]}.so"
        failed = dest.with_suffix(".failed")
        if dest.exists() and not force:
            return dest
        if failed.exists() and not force:
            errors.append(failed.read_text())
            continue
        err = _compile(cc, flags, dest)
        if err is None:
            return dest
        errors.append(err)
        try:
            failed.write_text(err)
        except OSError:
            pass
    raise NativeBuildError("building the SALT C backend failed:\n" + "\n\n".join(errors))


def _cdef() -> str:
    text = (SOURCE_DIR / HEADERS[0]).read_text()
    begin, end = text.index("/* BEGIN CDEF */"), text.index("/* END CDEF */")
    return text[begin + len("/* BEGIN CDEF */") : end]


_lib_lock = threading.Lock()
_lib_cache: dict[bool, tuple] = {}


def library(portable: bool = False):
    """(ffi, lib) of the loaded C backend; builds it on first call."""
    cached = _lib_cache.get(portable)
    if cached is not None:
        return cached
    with _lib_lock:
        if portable not in _lib_cache:
            try:
                from cffi import FFI
            except ImportError as e:
                raise NativeBuildError("cffi is not installed") from e
            path = build(portable=portable)
            ffi = FFI()
            ffi.cdef(_cdef())
            try:
                lib = ffi.dlopen(str(path))
            except OSError as e:
                raise NativeBuildError(f"cannot load {path}: {e}") from e
            if lib.salt_abi_version() != ABI_VERSION:
                raise NativeBuildError(f"{path}: ABI version {lib.salt_abi_version()} != {ABI_VERSION}")
            _lib_cache[portable] = (ffi, lib)
    return _lib_cache[portable]


def default_threads() -> int:
    env = os.environ.get("MEGAETH_SALT_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(2, os.cpu_count() or 1))


_tables_lock = threading.Lock()


def _ensure_tables(ffi, lib, threads: int) -> None:
    if lib.salt_tables_ready():
        return
    with _tables_lock:
        if lib.salt_tables_ready():
            return
        from salt.crs import generators

        bases = b"".join(bw.to_bytes64(g) for g in generators())
        rc = lib.salt_tables_init(ffi.from_buffer(bases), 256, threads)
        if rc != 0:
            raise MemoryError(f"cannot build the fixed-base tables ({lib.salt_table_bytes(256)} bytes): rc={rc}")


def _pack_points(points: Sequence[bytes]) -> bytes:
    buf = b"".join(points)
    if len(buf) != 64 * len(points):
        for p in points:
            if len(p) != 64:
                raise bw.PointDecodeError(f"uncompressed point must be 64 bytes, got {len(p)}")
    return buf


def _pack_scalars(values: Sequence[int], n: int) -> bytes:
    """n scalars as LE32, reduced mod r (ValueError unless there are exactly n)."""
    if len(values) != n:
        raise ValueError(f"expected {n} scalars, got {len(values)}")
    r = _R
    return b"".join([(v % r).to_bytes(32, "little") for v in values])


def _unpack_scalars(buf: bytes | bytearray) -> list[int]:
    fb, mv = int.from_bytes, bytes(buf)
    return [fb(mv[i : i + 32], "little") for i in range(0, len(mv), 32)]


def _split(buf: bytes, size: int) -> list[bytes]:
    return [buf[i : i + size] for i in range(0, len(buf), size)]


_EMPTY_LEN = 0xFFFFFFFF  # salt_commit_slot_deltas: empty slot


def _pack_changes(changes: Sequence[SlotChange]) -> tuple[bytes, array]:
    """Old and new slot contents of each change as key ‖ value bytes and their lengths (_EMPTY_LEN: empty)."""
    if isinstance(changes, PackedChanges):
        return changes.packed  # type: ignore[return-value]
    vals = [v for ch in changes for v in ch]
    data = b"".join([x for v in vals if v is not None for x in v])
    lens = array("I", [_EMPTY_LEN if v is None else len(v[0]) + len(v[1]) for v in vals])
    return data or b"\0", lens
_EINDEX = -3
_NODES012 = STARTING_NODE_ID[3]  # main-trie nodes of levels 0-2
_IDENTITY_START = bytes(32) + (1).to_bytes(32, "little")  # (0, 1)


SparseVector = tuple[int, bytes, bytes]  # (c, slots where the vector is not c, LE32 values there)


class PackedOps:
    """A batch's plain-key ops in `salt_shi_flat`'s input form: op i is key ‖ value at starts[i] in
    `data` with lengths lens[2i], lens[2i+1] (0xFFFFFFFF: delete) in data bucket buckets[i]; `keys`
    and `values` are kept for the caller (value None = delete)."""

    __slots__ = ("keys", "values", "buckets", "data", "lens", "starts", "sizes")

    def __init__(self, keys: Sequence[bytes], values: Sequence[bytes | None], buckets: Sequence[int]) -> None:
        n = len(keys)
        if len(values) != n or len(buckets) != n:
            raise ValueError("pack_ops: keys, values and buckets do not match")
        self.keys, self.values = keys, values
        self.buckets = array("Q", buckets)
        deletes = None in values
        vals = [b"" if v is None else v for v in values] if deletes else values
        self.data = b"".join(chain.from_iterable(zip(keys, vals))) or b"\0"  # type: ignore[arg-type]
        self.lens = lens = array("I", bytes(8 * n))
        lens[0::2] = array("I", map(len, keys))
        if deletes:
            lens[1::2] = array("I", [_EMPTY_LEN if v is None else len(v) for v in values])
        else:
            lens[1::2] = array("I", map(len, vals))
        self.sizes = sizes = array("I", map(add, map(len, keys), map(len, vals)))
        starts = array("I", accumulate(sizes, initial=0))
        starts.pop()  # the total: each op keeps only its start
        self.starts = starts

    def __len__(self) -> int:
        return len(self.keys)


class NativeBackend:
    """Same API as `salt.pedersen.PythonBackend`, computed in C (see module docstring)."""

    name = "native"

    def __init__(self, threads: int | None = None, *, portable: bool = False) -> None:
        self._ffi, self._lib = library(portable)
        self.threads = default_threads() if threads is None else max(1, threads)
        self._bary: tuple[Sequence[Sequence[int]], bytes] | None = None  # packed prover constants
        self._inv_aprime: tuple[Sequence[int], bytes] | None = None  # packed verifier constants

    def warm(self) -> None:
        """Build the fixed-base tables now instead of on the first commitment."""
        _ensure_tables(self._ffi, self._lib, self.threads)

    def _commit(self, olds_buf: bytes, n: int, counts: array, idx: bytes, scalars: bytes) -> bytes:
        ffi, lib = self._ffi, self._lib
        _ensure_tables(ffi, lib, self.threads)
        out = bytearray(64 * n)
        rc = lib.salt_commit_deltas(
            ffi.from_buffer(olds_buf),
            n,
            ffi.from_buffer("uint32_t[]", counts),
            ffi.from_buffer(idx),
            ffi.from_buffer(scalars),
            ffi.from_buffer(out),
            self.threads,
        )
        if rc != 0:
            raise MemoryError(f"salt_commit_deltas failed: rc={rc}")
        return bytes(out)

    def commit_deltas(self, olds: Sequence[bytes], deltas: Sequence[Sequence[tuple[int, int]]]) -> list[bytes]:
        n = len(olds)
        if len(deltas) != n:
            raise ValueError(f"commit_deltas: {n} commitments but {len(deltas)} delta lists")
        if n == 0:
            return []
        olds_buf = _pack_points(olds)
        counts = array("I", [len(ds) for ds in deltas])
        flat = [d for ds in deltas for d in ds]
        try:
            idx = bytes([i for i, _ in flat])
        except ValueError:
            bad = next(i for i, _ in flat if not 0 <= i < 256)
            raise IndexError(f"generator index {bad} out of range 0..255") from None
        r = _R
        scalars = b"".join([(s % r).to_bytes(32, "little") for _, s in flat])
        return _split(self._commit(olds_buf, n, counts, idx, scalars), 64)

    def commit(self, scalars: Sequence[int]) -> bytes:
        m = len(scalars)
        if m > 256:
            raise ValueError(f"commit: {m} scalars for 256 generators")
        r = _R
        packed = b"".join([(s % r).to_bytes(32, "little") for s in scalars])
        return self._commit(_IDENTITY_START, 1, array("I", [m]), bytes(range(m)), packed)

    def map_to_scalars(self, commitments: Sequence[bytes]) -> list[int]:
        n = len(commitments)
        if n == 0:
            return []
        buf = _pack_points(commitments)
        out = bytearray(32 * n)
        ffi = self._ffi
        if self._lib.salt_map_to_scalars(ffi.from_buffer(buf), n, ffi.from_buffer(out)) != 0:
            raise MemoryError("salt_map_to_scalars: out of memory")
        fb = int.from_bytes
        mv = bytes(out)
        return [fb(mv[i : i + 32], "little") for i in range(0, 32 * n, 32)]

    def decompress_many(self, compressed: Sequence[bytes]) -> list[bytes]:
        n = len(compressed)
        if n == 0:
            return []
        buf = b"".join(compressed)
        if len(buf) != 32 * n:
            for i, c in enumerate(compressed):
                if len(c) != 32:
                    raise bw.PointDecodeError(f"point {i}: compressed point must be 32 bytes, got {len(c)}")
        ffi = self._ffi
        out = bytearray(64 * n)
        code = ffi.new("int *")
        bad = self._lib.salt_decompress_many(ffi.from_buffer(buf), n, ffi.from_buffer(out), code, self.threads)
        if bad >= 0:
            if code[0] < 0:
                raise MemoryError("salt_decompress_many: out of memory")
            raise bw.PointDecodeError(f"point {bad}: {_ERRORS[code[0]]}")
        return _split(bytes(out), 64)

    def compress_many(self, commitments: Sequence[bytes]) -> list[bytes]:
        n = len(commitments)
        if n == 0:
            return []
        buf = _pack_points(commitments)
        out = bytearray(32 * n)
        ffi = self._ffi
        self._lib.salt_compress_many(ffi.from_buffer(buf), n, ffi.from_buffer(out))
        return _split(bytes(out), 32)

    def commit_slot_deltas(
        self, olds: Sequence[bytes], counts: Sequence[int], slots: bytes, changes: Sequence[SlotChange]
    ) -> list[bytes]:
        n = len(olds)
        if len(counts) != n or sum(counts) != len(changes) or len(slots) != len(changes):
            raise ValueError("commit_slot_deltas: counts, slots and changes do not match")
        if n == 0:
            return []
        ffi, lib = self._ffi, self._lib
        _ensure_tables(ffi, lib, self.threads)
        data, lens = _pack_changes(changes)
        out = bytearray(64 * n)
        rc = lib.salt_commit_slot_deltas(
            ffi.from_buffer(_pack_points(olds)),
            n,
            ffi.from_buffer("uint32_t[]", array("I", counts)),
            ffi.from_buffer(slots),
            ffi.from_buffer(data),
            ffi.from_buffer("uint32_t[]", lens),
            ffi.from_buffer(out),
            self.threads,
        )
        if rc != 0:
            raise (IndexError if rc == _EINDEX else MemoryError)(f"salt_commit_slot_deltas failed: rc={rc}")
        return _split(bytes(out), 64)

    def propagate_main(
        self, ids: Sequence[int], olds: Sequence[bytes], news: Sequence[bytes], anc_olds: Sequence[bytes], top: int = 0
    ) -> tuple[list[bytes], int]:
        n, m = len(ids), len(anc_olds)
        if n == 0:
            return [], 0
        ffi = self._ffi
        _ensure_tables(ffi, self._lib, self.threads)
        out = bytearray(64 * m)
        ec = ffi.new("uint64_t *")
        rc = self._lib.salt_propagate_main(
            n,
            ffi.from_buffer("uint32_t[]", array("I", ids)),
            ffi.from_buffer(_pack_points(olds)),
            ffi.from_buffer(_pack_points(news)),
            top,
            m,
            ffi.from_buffer(_pack_points(anc_olds)),
            ffi.from_buffer(out),
            ec,
            self.threads,
        )
        if rc != 0:
            raise (ValueError if rc == _EINDEX else MemoryError)(f"salt_propagate_main failed: rc={rc}")
        return _split(bytes(out), 64), int(ec[0])

    def _leaf_inputs(self, name: str, ids: Sequence[int], olds: Sequence[bytes], counts: Sequence[int],
                     slots: bytes, changes: Sequence[SlotChange]) -> tuple[Any, ...]:
        """The six leaf buffers of a `salt_leaves_start[_flat]` job (ids, olds, counts, slots, change data,
        change lengths), after checking that they match; builds the tables first."""
        n = len(ids)
        if len(counts) != n or len(olds) != n or sum(counts) != len(changes) or len(slots) != len(changes):
            raise ValueError(f"{name}: ids, olds, counts, slots and changes do not match")
        ffi = self._ffi
        _ensure_tables(ffi, self._lib, self.threads)
        data, lens = _pack_changes(changes)
        return (
            ffi.from_buffer("uint32_t[]", array("I", ids)),
            ffi.from_buffer(_pack_points(olds)),
            ffi.from_buffer("uint32_t[]", array("I", counts)),
            ffi.from_buffer(slots or b"\0"),
            ffi.from_buffer(data),
            ffi.from_buffer("uint32_t[]", lens),
        )

    def leaves_to_level1(
        self,
        ids: Sequence[int],
        olds: Sequence[bytes],
        counts: Sequence[int],
        slots: bytes,
        changes: Sequence[SlotChange],
        anc_olds: Sequence[bytes],
        background: bool = True,
    ) -> Callable[[], tuple[list[bytes], list[bytes], int]]:
        """Queue `commit_slot_deltas` of the level-3 nodes `ids`, then `propagate_main(..., top=1)`, for
        one C thread (no GIL); the returned function waits for (leaf news, ancestor news, ecmuls),
        running the job on the caller's thread when it has not started yet. So the Python thread
        keeps its core while the queue is served beside it, and both share what is left at the end.
        `background=False` (the caller waits at once): the job uses `threads` threads."""
        n, m = len(ids), len(anc_olds)
        ffi, lib = self._ffi, self._lib
        news, anc_news = bytearray(64 * n), bytearray(64 * m)
        bufs = (
            *self._leaf_inputs("leaves_to_level1", ids, olds, counts, slots, changes),
            ffi.from_buffer(_pack_points(anc_olds) or b"\0"),
            ffi.from_buffer(news or b"\0"),
            ffi.from_buffer(anc_news or b"\0"),
        )
        job = lib.salt_leaves_start(n, *bufs[:6], m, *bufs[6:], 1 if background else self.threads)
        if job == ffi.NULL:
            raise MemoryError("salt_leaves_start: out of memory")

        def wait() -> tuple[list[bytes], list[bytes], int]:
            nonlocal bufs
            ec = ffi.new("uint64_t *")
            rc = lib.salt_leaves_wait(job, ec)
            bufs = ()  # kept alive until the C thread is done
            if rc != 0:
                raise (ValueError if rc == _EINDEX else MemoryError)(f"salt_leaves_start failed: rc={rc}")
            return _split(bytes(news), 64), _split(bytes(anc_news), 64), int(ec[0])

        return wait

    def leaves_to_level1_flat(
        self,
        ids: Sequence[int],
        olds: Sequence[bytes],
        counts: Sequence[int],
        slots: bytes,
        changes: Sequence[SlotChange],
        nodes012: bytes,
        background: bool = True,
    ) -> Callable[[], tuple[list[bytes], list[int], list[bytes], bytes, int]]:
        """`leaves_to_level1` whose ancestors C finds and reads from `nodes012` (`salt_leaves_start_flat`);
        the waiter gives (leaf news, changed ancestor ids, their news, root partial sum, ecmuls)."""
        n = len(ids)
        if len(nodes012) != 64 * _NODES012:
            raise ValueError("leaves_to_level1_flat: nodes012 must hold the 65,793 level 0-2 commitments")
        ffi, lib = self._ffi, self._lib
        room = n + min(n, 256)
        news, anc_news, anc_ids = bytearray(64 * n), bytearray(64 * room), array("I", bytes(4 * room))
        n_changed = ffi.new("size_t *")
        partial = bytearray(64)
        bufs = (
            *self._leaf_inputs("leaves_to_level1_flat", ids, olds, counts, slots, changes),
            ffi.from_buffer(nodes012),
            ffi.from_buffer(news or b"\0"),
            ffi.from_buffer("uint32_t[]", anc_ids or array("I", [0])),
            ffi.from_buffer(anc_news or b"\0"),
        )
        job = lib.salt_leaves_start_flat(
            n, *bufs, n_changed, ffi.from_buffer(partial), 1 if background else self.threads)
        if job == ffi.NULL:
            raise MemoryError("salt_leaves_start_flat: out of memory")

        def wait() -> tuple[list[bytes], list[int], list[bytes], bytes, int]:
            nonlocal bufs
            ec = ffi.new("uint64_t *")
            rc = lib.salt_leaves_wait(job, ec)
            bufs = ()  # kept alive until the C thread is done
            if rc != 0:
                err = ValueError if rc == _EINDEX else MemoryError
                raise err(f"salt_leaves_start_flat failed: rc={rc}")
            m = int(n_changed[0])
            anc_news_m = _split(bytes(anc_news[: 64 * m]), 64)
            return _split(bytes(news), 64), anc_ids[:m].tolist(), anc_news_m, bytes(partial), int(ec[0])

        return wait

    def root_from_level1(
        self, nodes012: bytes, ids: Sequence[int], news: Sequence[bytes], partials: Sequence[bytes] = ()
    ) -> bytes:
        """The root commitment after the level-1 nodes `ids` (ascending) change to `news`, their old
        commitments and the old root read from `nodes012`, plus `partials` (`salt_root_from_level1`,
        §5.1)."""
        n = len(ids)
        if len(news) != n or len(nodes012) != 64 * _NODES012:
            raise ValueError("root_from_level1: ids, news and nodes012 do not match")
        ffi, lib = self._ffi, self._lib
        _ensure_tables(ffi, lib, self.threads)
        out = bytearray(64)
        rc = lib.salt_root_from_level1(
            ffi.from_buffer(nodes012),
            n,
            ffi.from_buffer("uint32_t[]", array("I", ids) or array("I", [0])),
            ffi.from_buffer(_pack_points(news) or b"\0"),
            len(partials),
            ffi.from_buffer(_pack_points(partials) or b"\0"),
            ffi.from_buffer(out),
            self.threads,
        )
        if rc != 0:
            raise (ValueError if rc == _EINDEX else MemoryError)(f"salt_root_from_level1 failed: rc={rc}")
        return bytes(out)

    def pack_ops(self, keys: Sequence[bytes], values: Sequence[bytes | None], buckets: Sequence[int]) -> PackedOps:
        """A batch's plain-key ops (upsert `values[i]`, or delete when None, of `keys[i]` in data bucket
        `buckets[i]`) packed once for `shi_flat`."""
        return PackedOps(keys, values, buckets)

    def shi_flat(
        self,
        buckets: Sequence[int],
        nonces: Sequence[int],
        entry_off: array,
        entry_slots: bytes,
        entries: Sequence[bytes],
        ops: PackedOps,
        idx: Sequence[int],
    ) -> tuple[list[int], list[int], array, array, array, tuple[bytes, array]] | None:
        """SHI ops of flat buckets in C (`salt_shi_flat`, §2.3): `entries` are the buckets' stored
        94-byte slots (slot numbers in `entry_slots`, bucket i's at entry_off[i]..entry_off[i+1]-1);
        the ops are `ops[j] for j in idx`, grouped by bucket in the order of `buckets`, each bucket's
        in idx order. Returns None when a bucket would resize (the caller runs the Python path), else
        (changed-slot count and occupancy change per bucket, changed SaltKeys ascending, their old and
        new content as -1 = empty, op index into `ops` or len(ops) + entry index (those three as
        arrays), packed (data, lens) of old/new key ‖ value)."""
        nb, n_ops, n_ent = len(buckets), len(idx), len(entries)
        if len(nonces) != nb or len(entry_off) != nb + 1 or entry_off[nb] != n_ent or len(entry_slots) != n_ent:
            raise ValueError("shi_flat: bucket and entry arrays do not match")
        raw = b"".join(entries)
        if len(raw) != 94 * n_ent:
            raise ValueError("shi_flat: stored entries must be 94 bytes")
        idx_a = array("I", idx)
        sizes = ops.sizes
        room = 2 * n_ent + n_ops
        out_count = array("I", bytes(4 * nb))
        out_delta = array("i", bytes(4 * nb))
        out_key = array("Q", bytes(8 * room))
        out_old = array("i", bytes(4 * room))
        out_new = array("i", bytes(4 * room))
        out_data = bytearray(2 * len(raw) + sum(map(sizes.__getitem__, idx_a)) + 1)
        out_lens = array("I", bytes(8 * room))
        ffi = self._ffi
        out_n = ffi.new("size_t[2]")
        rc = self._lib.salt_shi_flat(
            nb,
            ffi.from_buffer("uint64_t[]", array("Q", buckets)),
            ffi.from_buffer("uint32_t[]", array("I", nonces)),
            ffi.from_buffer("uint32_t[]", entry_off),
            ffi.from_buffer(entry_slots or b"\0"),
            ffi.from_buffer(raw or b"\0"),
            n_ops,
            ffi.from_buffer("uint32_t[]", idx_a or array("I", [0])),
            len(ops),
            ffi.from_buffer("uint64_t[]", ops.buckets or array("Q", [0])),
            ffi.from_buffer(ops.data),
            ffi.from_buffer("uint32_t[]", ops.lens or array("I", [0])),
            ffi.from_buffer("uint32_t[]", ops.starts or array("I", [0])),
            ffi.from_buffer("uint32_t[]", out_count or array("I", [0])),
            ffi.from_buffer("int32_t[]", out_delta or array("i", [0])),
            ffi.from_buffer("uint64_t[]", out_key or array("Q", [0])),
            ffi.from_buffer("int32_t[]", out_old or array("i", [0])),
            ffi.from_buffer("int32_t[]", out_new or array("i", [0])),
            ffi.from_buffer(out_data),
            ffi.from_buffer("uint32_t[]", out_lens or array("I", [0])),
            out_n,
        )
        if rc < 0:
            raise (ValueError if rc == _EINDEX else MemoryError)(f"salt_shi_flat failed: rc={rc}")
        if rc > 0:
            return None
        n, size = int(out_n[0]), int(out_n[1])
        return (
            out_count.tolist(),
            out_delta.tolist(),
            out_key[:n],
            out_old[:n],
            out_new[:n],
            (bytes(out_data[:size]) or b"\0", out_lens[: 2 * n]),
        )

    def order_by_bucket(self, buckets: Sequence[int]) -> tuple[array, array]:
        """The indices of `buckets` (data bucket ids, < 2^24) in stable bucket order, and the buckets
        in that order (`salt_order_by_bucket`)."""
        n = len(buckets)
        order, ordered = array("I", bytes(4 * n)), array("Q", bytes(8 * n))
        ffi = self._ffi
        rc = self._lib.salt_order_by_bucket(
            ffi.from_buffer("uint64_t[]", array("Q", buckets) or array("Q", [0])),
            n,
            ffi.from_buffer("uint32_t[]", order or array("I", [0])),
            ffi.from_buffer("uint64_t[]", ordered or array("Q", [0])),
        )
        if rc != 0:
            raise (ValueError if rc == _EINDEX else MemoryError)(f"salt_order_by_bucket failed: rc={rc}")
        return order, ordered

    def id_bitmap(self, ids_be: bytes, first: int, count: int) -> bytes:
        """Bit id − first (of byte (id − first) >> 3) set for each big-endian u64 in `ids_be` that lies
        in first..first + count − 1 (`salt_id_bitmap`)."""
        if len(ids_be) % 8:
            raise ValueError("id_bitmap: ids must be 8 bytes each")
        out = bytearray((count + 7) // 8)
        ffi = self._ffi
        ids = ffi.from_buffer(ids_be or b"\0")
        self._lib.salt_id_bitmap(ids, len(ids_be) // 8, first, count, ffi.from_buffer(out))
        return bytes(out)

    def blake3_many(self, inputs: Sequence[bytes]) -> list[bytes]:
        """BLAKE3 digests of inputs of at most 1024 bytes each."""
        n = len(inputs)
        if n == 0:
            return []
        out = bytearray(32 * n)
        ffi = self._ffi
        rc = self._lib.salt_blake3_many(
            ffi.from_buffer(b"".join(inputs) or b"\0"),
            ffi.from_buffer("uint32_t[]", array("I", map(len, inputs))),
            n,
            ffi.from_buffer(out),
        )
        if rc != 0:
            raise ValueError("blake3_many: input longer than 1024 bytes")
        return _split(bytes(out), 32)

    def ahash_many(self, inputs: Sequence[bytes], nonce: int | None = None) -> list[int]:
        n = len(inputs)
        if n == 0:
            return []
        out = array("Q", bytes(8 * n))
        ffi = self._ffi
        rc = self._lib.salt_ahash_many(
            ffi.from_buffer(b"".join(inputs) or b"\0"),
            ffi.from_buffer("uint32_t[]", array("I", map(len, inputs))),
            n,
            -1 if nonce is None else nonce,
            ffi.from_buffer("uint64_t[]", out),
        )
        if rc != 0:
            raise ValueError("ahash_many: input longer than 1024 bytes")
        return out.tolist()

    def fr_quotient_sum(
        self, vectors: bytes, zs: bytes, inv_small: Sequence[int], aprime: Sequence[int], inv_aprime: Sequence[int]
    ) -> list[int]:
        if len(vectors) != 256 * 32 * len(zs):
            raise ValueError(f"fr_quotient_sum: {len(vectors)} vector bytes for {len(zs)} points")
        consts = _pack_scalars([0, *inv_small[1:256], *aprime, *inv_aprime], 3 * 256)
        out = bytearray(32 * 256)
        ffi = self._ffi
        rc = self._lib.salt_fr_quotient_sum(
            ffi.from_buffer(vectors or b"\0"), ffi.from_buffer(zs or b"\0"), len(zs), ffi.from_buffer(consts), ffi.from_buffer(out)
        )
        if rc != 0:
            raise MemoryError(f"salt_fr_quotient_sum failed: rc={rc}")
        return _unpack_scalars(out)

    def fr_quotient_sparse(
        self, nodes: Sequence[SparseVector], node: Sequence[int], zs: Sequence[int], r: int, bary: Sequence[Sequence[int]]
    ) -> list[int]:
        """Prover (§6.5): `fr_quotient_sum` of `agg_z = Σ_{i: zs[i] = z} r^i·nodes[node[i]]`, the node
        vectors in sparse form `(c, slots, LE32 values there)`; `bary` = (1/d, A'(j), 1/A'(j),
        Σ_{j≠z} 1/(A'(j)·(j − z))), 256 scalars each (1/0 unused)."""
        if self._bary is None or self._bary[0] is not bary:
            self._bary = (bary, _pack_scalars([0, *bary[0][1:], *bary[1], *bary[2], *bary[3]], 4 * 256))
        return self._sparse_call(self._lib.salt_fr_quotient_sparse, nodes, node, zs, r, self._bary[1])

    def fr_combine_sparse(
        self, nodes: Sequence[SparseVector], node: Sequence[int], zs: Sequence[int], r: int, zcoefs: Sequence[int]
    ) -> list[int]:
        """Prover (§6.5): `Σ_i r^i·zcoefs[zs[i]]·nodes[node[i]]` (node vectors as for `fr_quotient_sparse`)."""
        return self._sparse_call(self._lib.salt_fr_combine_sparse, nodes, node, zs, r, _pack_scalars(zcoefs, 256))

    def _sparse_call(
        self, fn: Any, nodes: Sequence[SparseVector], node: Sequence[int], zs: Sequence[int], r: int, consts: bytes
    ) -> list[int]:
        nq = len(node)
        if len(zs) != nq:
            raise ValueError(f"{nq} query nodes but {len(zs)} points")
        idx = b"".join([ix for _, ix, _ in nodes])
        vals = b"".join([v for _, _, v in nodes])
        if len(vals) != 32 * len(idx):
            raise ValueError("sparse vectors need 32 value bytes per slot")
        out = bytearray(32 * 256)
        ffi = self._ffi
        rc = fn(
            len(nodes),
            ffi.from_buffer(_pack_scalars([c for c, _, _ in nodes], len(nodes)) or b"\0"),
            ffi.from_buffer("uint32_t[]", array("I", [len(ix) for _, ix, _ in nodes])) if nodes else ffi.NULL,
            ffi.from_buffer(idx or b"\0"),
            ffi.from_buffer(vals or b"\0"),
            nq,
            ffi.from_buffer("uint32_t[]", array("I", node)) if nq else ffi.NULL,
            ffi.from_buffer(bytes(zs) or b"\0"),
            ffi.from_buffer((r % _R).to_bytes(32, "little")),
            ffi.from_buffer(consts),
            ffi.from_buffer(out),
        )
        if rc != 0:
            raise (ValueError if rc == _EINDEX else MemoryError)(f"sparse prover sum failed: rc={rc}")
        return _unpack_scalars(out)

    def fr_combine(self, vectors: bytes, coefs: Sequence[int]) -> list[int]:
        if len(vectors) != 256 * 32 * len(coefs):
            raise ValueError(f"fr_combine: {len(vectors)} vector bytes for {len(coefs)} coefficients")
        out = bytearray(32 * 256)
        ffi = self._ffi
        rc = self._lib.salt_fr_combine(
            ffi.from_buffer(vectors or b"\0"),
            len(coefs),
            ffi.from_buffer(_pack_scalars(coefs, len(coefs)) or b"\0"),
            ffi.from_buffer(out),
        )
        if rc != 0:
            raise MemoryError(f"salt_fr_combine failed: rc={rc}")
        return _unpack_scalars(out)

    def fr_verify_sums(
        self, node: Sequence[int], zs: Sequence[int], ys: Sequence[int], n_points: int, r: int, t: int
    ) -> tuple[list[int], int]:
        """Verifier (§6.4): `salt.ipa.verify_sums_reference` in C — per point the sum of r^i/(t − z_i)
        over its queries (node[i] = point), and g2(t) = Σ r^i·y_i/(t − z_i); t outside the domain."""
        nq = len(node)
        if len(zs) != nq or len(ys) != nq:
            raise ValueError(f"fr_verify_sums: {nq} query nodes, {len(zs)} points, {len(ys)} values")
        out, g2 = bytearray(32 * max(n_points, 1)), bytearray(32)
        ffi = self._ffi
        rc = self._lib.salt_fr_verify_sums(
            nq,
            ffi.from_buffer("uint32_t[]", array("I", node)) if nq else ffi.NULL,
            ffi.from_buffer(bytes(zs) or b"\0"),
            ffi.from_buffer(_pack_scalars(ys, nq) or b"\0"),
            n_points,
            ffi.from_buffer((r % _R).to_bytes(32, "little")),
            ffi.from_buffer((t % _R).to_bytes(32, "little")),
            ffi.from_buffer(out),
            ffi.from_buffer(g2),
        )
        if rc == _EINDEX:
            raise ValueError(f"fr_verify_sums: a query node is >= {n_points}")
        if rc != 0:
            raise MemoryError(f"salt_fr_verify_sums failed: rc={rc}")
        return _unpack_scalars(out[: 32 * n_points]), int.from_bytes(g2, "little")

    def fr_verify_final(
        self, t: int, xs: Sequence[int], a: int, inv_aprime: Sequence[int]
    ) -> tuple[int, list[int], list[int]]:
        """Verifier (§6.4): `salt.ipa.verify_final_reference` in C — (b0, a·s_j for the 256 generators,
        1/x_k), given the barycentric constants 1/A'(j)."""
        if self._inv_aprime is None or self._inv_aprime[0] is not inv_aprime:
            self._inv_aprime = (inv_aprime, _pack_scalars(inv_aprime, 256))
        b0, a_s, x_inv = bytearray(32), bytearray(32 * 256), bytearray(32 * len(xs))
        ffi = self._ffi
        rc = self._lib.salt_fr_verify_final(
            ffi.from_buffer((t % _R).to_bytes(32, "little")),
            ffi.from_buffer(_pack_scalars(xs, 8)),
            ffi.from_buffer((a % _R).to_bytes(32, "little")),
            ffi.from_buffer(self._inv_aprime[1]),
            ffi.from_buffer(b0),
            ffi.from_buffer(a_s),
            ffi.from_buffer(x_inv),
        )
        if rc != 0:
            raise MemoryError(f"salt_fr_verify_final failed: rc={rc}")
        return int.from_bytes(b0, "little"), _unpack_scalars(a_s), _unpack_scalars(x_inv)

    def msm(self, points: Sequence[bytes], scalars: Sequence[int]) -> bytes:
        n = len(points)
        if len(scalars) != n:
            raise ValueError(f"msm: {n} points but {len(scalars)} scalars")
        buf = _pack_points(points) if n else b"\0" * 64
        r = _R
        packed = b"".join([(s % r).to_bytes(32, "little") for s in scalars]) if n else b"\0" * 32
        out = bytearray(64)
        ffi = self._ffi
        rc = self._lib.salt_msm(
            ffi.from_buffer(buf), ffi.from_buffer(packed), n, ffi.from_buffer(out), self.threads
        )
        if rc != 0:
            raise MemoryError(f"salt_msm failed: rc={rc}")
        return bytes(out)
