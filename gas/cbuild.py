"""Small C helpers built on first use with the machine's C compiler and loaded with cffi.

A source is compiled with `$CC` (else cc, gcc or clang) into the per-user cache (`$MEGAETH_CACHE_DIR`, else
~/.cache/megaeth-node), keyed by source, compiler and flags; `load()` is None when no compiler or cffi is
available, and callers then use their Python form."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

FLAGS = ("-O2", "-fPIC", "-shared", "-std=c11")
COMPILERS = ("cc", "gcc", "clang-19", "clang")


def _compiler() -> list[str] | None:
    cc = os.environ.get("CC", "").strip()
    if cc:
        return shlex.split(cc) if shutil.which(shlex.split(cc)[0]) else None
    path = next((p for p in map(shutil.which, COMPILERS) if p), None)
    return [path] if path else None


def _build(source: Path, cc: list[str]) -> Path | None:
    """The cached library's path, compiled (atomically renamed into place) if missing; None on failure."""
    h = hashlib.sha256(source.read_bytes() + "\0".join([*cc, *FLAGS]).encode()).hexdigest()[:20]
    cache = Path(os.environ.get("MEGAETH_CACHE_DIR") or Path.home() / ".cache" / "megaeth-node")
    dest = cache / f"{source.stem}-{h}.so"
    if dest.exists():
        return dest
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{source.stem}.", suffix=".so.tmp", dir=cache)
    os.close(fd)
    try:
        res = subprocess.run([*cc, *FLAGS, "-o", tmp, str(source)], capture_output=True, timeout=120)
        if res.returncode != 0:
            return None
        os.replace(tmp, dest)
        return dest
    except (OSError, subprocess.SubprocessError):
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load(source: Path, cdef: str) -> tuple[Any, Any] | None:
    """`(ffi, lib)` of `source` built here (functions declared by `cdef`), or None when it cannot be: no cffi,
    no compiler, a cache that cannot be written, a library that does not load."""
    try:
        from cffi import FFI
    except ImportError:
        return None
    cc = _compiler()
    try:
        path = _build(source, cc) if cc else None
        if path is None:
            return None
        ffi = FFI()
        ffi.cdef(cdef)
        return ffi, ffi.dlopen(str(path))
    except OSError:
        return None
