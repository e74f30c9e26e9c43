"""FastLZ compressed length in C (`native/fastlz.c`), the L1 data fee's hot loop (§7.4, §9.2).

Built on first use with the machine's C compiler (`$CC`, else cc/gcc/clang) into the per-user cache
(`$MEGAETH_CACHE_DIR`, else ~/.cache/megaeth-node), keyed by source, compiler and flags, and loaded with
cffi; `compress_len()` is None when no compiler or cffi is available (callers then use the Python form)."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

SOURCE = Path(__file__).resolve().with_name("native") / "fastlz.c"
FLAGS = ("-O2", "-fPIC", "-shared", "-std=c11")
COMPILERS = ("cc", "gcc", "clang-19", "clang")
CDEF = "uint64_t flz_compress_len(const uint8_t *data, size_t n);"


def _compiler() -> list[str] | None:
    cc = os.environ.get("CC", "").strip()
    if cc:
        return shlex.split(cc) if shutil.which(shlex.split(cc)[0]) else None
    path = next((p for p in map(shutil.which, COMPILERS) if p), None)
    return [path] if path else None


def _build(cc: list[str]) -> Path | None:
    """The cached library's path, compiled (atomically renamed into place) if missing; None on failure."""
    h = hashlib.sha256(SOURCE.read_bytes() + "\0".join([*cc, *FLAGS]).encode()).hexdigest()[:20]
    cache = Path(os.environ.get("MEGAETH_CACHE_DIR") or Path.home() / ".cache" / "megaeth-node")
    dest = cache / f"fastlz-{h}.so"
    if dest.exists():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".fastlz.", suffix=".so.tmp", dir=cache)
    os.close(fd)
    try:
        res = subprocess.run([*cc, *FLAGS, "-o", tmp, str(SOURCE)], capture_output=True, timeout=120)
        if res.returncode != 0:
            return None
        os.replace(tmp, dest)
        return dest
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_loaded: list[Callable[[bytes], int] | None] = []


def compress_len() -> Callable[[bytes], int] | None:
    """`f(data) -> FastLZ length` in C, or None when it cannot be built here (decided once per process)."""
    if not _loaded:
        _loaded.append(_load())
    return _loaded[0]


def _load() -> Callable[[bytes], int] | None:
    try:
        from cffi import FFI
    except ImportError:
        return None
    cc = _compiler()
    path = _build(cc) if cc else None
    if path is None:
        return None
    ffi = FFI()
    ffi.cdef(CDEF)
    lib = ffi.dlopen(str(path))
    fn, from_buffer = lib.flz_compress_len, ffi.from_buffer

    def flz(data: bytes) -> int:
        return int(fn(from_buffer(data), len(data)))

    return flz
