"""Small C helpers of other packages (FastLZ, batch ecrecover), built on first use and loaded with cffi.

A source is compiled with the discovered compiler (`aot.toolchain`, the one all of the project's C goes
through) into the per-user cache (`$MEGAETH_CACHE_DIR`, else ~/.cache/megaeth-node), keyed by source,
compiler and flags. `load()` is None when no compiler or cffi is available; callers then use their
Python form."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from aot.build import BuildError, cache_dir, compile_shared
from aot.toolchain import Compiler, ToolchainError, find_compiler

FLAGS = ("-std=c11", "-O2", "-fPIC", "-shared")


def _build(source: Path, cc: Compiler) -> Path:
    """The cached library's path, compiled (then renamed into place atomically) if missing."""
    text = source.read_text()
    key = "\0".join((text, *cc.argv, cc.version_text, *FLAGS))
    dest = cache_dir() / f"{source.stem}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.so"
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{source.stem}.", dir=dest.parent) as tmp:
        os.replace(compile_shared(cc, text, Path(tmp) / dest.name, FLAGS), dest)
    return dest


def load(source: Path, cdef: str) -> tuple[Any, Any] | None:
    """`(ffi, lib)` of `source` built here (functions declared by `cdef`), or None when it cannot be: no cffi,
    no compiler, a cache that cannot be written, a library that does not load."""
    try:
        from cffi import FFI
    except ImportError:
        return None
    try:
        path = _build(source, find_compiler())
        ffi = FFI()
        ffi.cdef(cdef)
        return ffi, ffi.dlopen(str(path))
    except (ToolchainError, BuildError, OSError):
        return None
