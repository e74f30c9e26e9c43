"""Compiler discovery and the `_BitInt(256)` toolchain proof."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aot.selftest import CASES, OPS, expected, run_selftest
from aot.toolchain import MIN_CLANG_MAJOR, ToolchainError, find_compiler


def test_find_compiler_is_recent_clang() -> None:
    cc = find_compiler()
    assert cc.major >= MIN_CLANG_MAJOR


def test_bitint256_selftest_matches_python() -> None:
    assert run_selftest(find_compiler()) == len(OPS) * len(CASES)


def test_explicit_compiler_is_exclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEGAETH_CC", "/nonexistent/clang")
    with pytest.raises(ToolchainError, match="MEGAETH_CC"):
        find_compiler()


def test_too_old_or_non_clang_compiler_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEGAETH_CC", "/bin/echo")
    with pytest.raises(ToolchainError):
        find_compiler()


@pytest.mark.parametrize("op", OPS)
def test_reference_semantics(op: str) -> None:
    u = 1 << 256
    assert 0 <= expected(op, u - 1, u - 1) < u
    assert expected("div", 7, 0) == 0 and expected("shl", 1, 256) == 0 and expected("shr", 1 << 255, 255) == 1


def test_no_compiler_anywhere_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("MEGAETH_CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("aot.toolchain._zig_argv", lambda: None)
    with pytest.raises(ToolchainError, match="python -m aot.toolchain --install"):
        find_compiler()


@pytest.mark.parametrize("units", [1, 2])
def test_build_timeout_kills_what_the_compiler_started(tmp_path: Path, units: int) -> None:
    """A compiler that overruns its budget is killed with everything it started (a zig wrapper's clang), not
    only the process the build ran."""
    from aot.build import BuildError, compile_shared_parts
    from aot.toolchain import Compiler

    pids = tmp_path / "pids"
    script = f"sleep 60 & echo $! >> {pids}; wait"
    cc = Compiler(("sh", "-c", script, "sh"), 19, "fake")
    with pytest.raises(BuildError, match="timed out"):
        compile_shared_parts(cc, ["int x;"] * units, tmp_path / "x.so", timeout_s=0.5)
    for pid in map(int, pids.read_text().split()):
        for _ in range(50):
            if not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]:
                break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the compiler's child {pid} outlived the timeout")
