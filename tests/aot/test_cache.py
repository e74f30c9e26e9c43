"""The content-addressed .so cache: keys, reuse from disk, budget refusal."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import aot.cache
from aot.cache import Budget, NativeCache
from aot.toolchain import find_compiler

FIB = bytes.fromhex("5f35600060015b8215601b578181019150909160019003916006565b91505000")


def test_compiled_contract_is_reused_from_disk(tmp_path: Path) -> None:
    cc = find_compiler()
    first = NativeCache(tmp_path, cc).compile(FIB)
    assert first is not None
    assert [p.suffix for p in tmp_path.iterdir()] == [".so"]
    again = NativeCache(tmp_path, cc).lookup(FIB)
    assert again is not None
    out = again.run(10**6, (10).to_bytes(32, "big"))
    assert (out.status, 10**6 - out.gas_left) == (0, 39 + 63 * 10)


def test_key_depends_on_code_and_spec(tmp_path: Path) -> None:
    cc = find_compiler()
    cancun, prague = NativeCache(tmp_path, cc, "cancun"), NativeCache(tmp_path, cc, "prague")
    assert cancun.key(FIB) != prague.key(FIB)
    assert cancun.key(FIB) != cancun.key(FIB + b"\0")


def test_key_depends_on_the_compiler_command(tmp_path: Path) -> None:
    """`MEGAETH_CC="clang-19 -O1"` builds other code than `clang-19` (same version line): another key."""
    cc = find_compiler()
    other = replace(cc, argv=(*cc.argv, "-fno-unroll-loops"))
    assert NativeCache(tmp_path, cc).key(FIB) != NativeCache(tmp_path, other).key(FIB)


def test_over_budget_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A contract over the size budget runs interpreted, and the refusal is remembered on disk: another cache
    (a restart, a worker process) does not generate its code again; a larger budget reconsiders it."""
    cc = find_compiler()
    cache = NativeCache(tmp_path, cc, budget=Budget(max_c_lines=5))
    assert cache.compile(FIB) is None
    assert cache.lookup(FIB) is None
    monkeypatch.setattr(aot.cache, "emit_units", lambda *a: pytest.fail("generated again"))
    assert NativeCache(tmp_path, cc, budget=Budget(max_c_lines=5)).compile(FIB) is None
    monkeypatch.undo()
    assert NativeCache(tmp_path, cc, budget=Budget(max_c_lines=500)).compile(FIB) is not None
