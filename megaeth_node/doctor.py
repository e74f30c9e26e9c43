"""`megaeth-node doctor`: report versions and prove the C toolchain end to end."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from collections.abc import Callable

from aot.build import BuildError
from aot.selftest import run_selftest
from aot.toolchain import ToolchainError, find_compiler

DEPENDENCIES = (
    "py-evm", "eth-hash", "pycryptodome", "lmdb", "aiohttp", "cffi", "py-ecc", "coincurve", "rlp",
    "trie", "eth-keys", "zstandard", "blake3", "prometheus-client",
)


def _lmdb_version() -> str:
    import lmdb

    return ".".join(map(str, lmdb.version()))


def run_doctor(out: Callable[[str], None] = print) -> int:
    """Print the report; return 0 when everything needed is present and the toolchain works."""
    problems: list[str] = []
    out(f"python      {platform.python_version()} ({sys.executable})")
    for dist in DEPENDENCIES:
        try:
            out(f"{dist:<18} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"dependency {dist} is not installed")
            out(f"{dist:<18} MISSING")
    try:
        out(f"liblmdb     {_lmdb_version()}")
    except ImportError as e:
        problems.append(f"lmdb does not import: {e}")
    try:
        cc = find_compiler()
        out(f"compiler    {cc.label}: {cc.version_text}")
        checks = run_selftest(cc)
        out(f"toolchain   ok: unsigned _BitInt(256) add/mul/div/shl/shr, {checks} checks against Python")
    except (ToolchainError, BuildError, AssertionError, OSError) as e:
        problems.append(f"C toolchain: {e}")
    for p in problems:
        out(f"error: {p}")
    out("doctor: ok" if not problems else f"doctor: {len(problems)} problem(s)")
    return 0 if not problems else 1
