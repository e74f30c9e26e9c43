"""Compiler discovery and the `_BitInt(256)` toolchain proof."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aot import toolchain
from aot.selftest import CASES, OPS, expected, run_selftest
from aot.toolchain import APT_PACKAGE, MIN_CLANG_MAJOR, Compiler, ToolchainError, find_compiler


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


def _fake_install(monkeypatch: pytest.MonkeyPatch, *, root: bool, apt: bool) -> list[list[str]]:
    """install() with no compiler until something was "installed"; returns the commands it ran."""
    ran: list[list[str]] = []
    found = Compiler(("clang-19",), 19, "clang version 19")

    def find() -> Compiler:
        if not ran:
            raise ToolchainError("none")
        return found

    monkeypatch.setattr(toolchain, "find_compiler", find)
    monkeypatch.setattr(toolchain.os, "geteuid", lambda: 0 if root else 1000)
    monkeypatch.setattr(toolchain.shutil, "which",
                        lambda name: "/usr/bin/apt-get" if apt and name == "apt-get" else None)
    monkeypatch.setattr(toolchain.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    return ran


def test_install_uses_apt_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    ran = _fake_install(monkeypatch, root=True, apt=True)
    said = toolchain.install()
    assert ran[-1][:3] == ["/usr/bin/apt-get", "install", "-y"] and APT_PACKAGE in ran[-1]
    assert said.startswith(f"installed {APT_PACKAGE} with apt")


@pytest.mark.parametrize("root, apt", [(False, True), (True, False)])
def test_install_falls_back_to_the_ziglang_wheel(monkeypatch: pytest.MonkeyPatch, root: bool, apt: bool) -> None:
    ran = _fake_install(monkeypatch, root=root, apt=apt)
    said = toolchain.install()
    assert ran == [[sys.executable, "-m", "pip", "install", "-q", "ziglang"]]
    assert said.startswith("installed the ziglang wheel")


def test_install_keeps_a_present_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolchain, "find_compiler", lambda: Compiler(("clang-18",), 18, "clang version 18"))
    monkeypatch.setattr(toolchain.subprocess, "run", lambda cmd, **kw: pytest.fail(f"ran {cmd}"))
    assert toolchain.install() == "compiler present: clang-18 (clang 18)"


def _node_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """An environment with no compiler on PATH and no `$MEGAETH_CC`."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "MEGAETH_CC"}
    return {**env, "PATH": str(tmp_path / "bin"), "MEGAETH_CACHE_DIR": str(tmp_path / "cache"), **extra}


def test_doctor_without_any_compiler_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No `$MEGAETH_CC`, no clang on PATH and no ziglang wheel (patched away: a machine set up as non-root has it)."""
    from megaeth_node.doctor import run_doctor

    for name, value in _node_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MEGAETH_CC", raising=False)
    monkeypatch.setattr(toolchain, "_zig_argv", lambda: None)
    lines: list[str] = []
    assert run_doctor(lines.append) == 1
    said = "\n".join(lines)
    assert "no clang >= 16 found" in said and "python -m aot.toolchain --install" in said


@pytest.mark.slow
def test_ziglang_wheel_builds_all_of_our_c(tmp_path: Path) -> None:
    """The non-root fallback for real: with no clang on PATH, the ziglang wheel from PyPI is discovered, doctor
    proves it, and the SALT curve code and the FastLZ helper are built with it."""
    wheel = tmp_path / "zig"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(wheel), "ziglang"],
                   check=True, timeout=600)
    env = _node_env(tmp_path, PYTHONPATH=str(wheel))
    doctor = subprocess.run([sys.executable, "-m", "megaeth_node.cli", "doctor"], capture_output=True, text=True,
                            env=env, timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "-m ziglang cc (clang " in doctor.stdout and "doctor: ok" in doctor.stdout
    script = (
        "from aot.toolchain import find_compiler; from salt import native; from gas.fastlz import compress_len\n"
        "assert find_compiler().argv[1:] == ('-m', 'ziglang', 'cc')\n"
        "ffi, lib = native.library(); assert lib.salt_abi_version() == native.ABI_VERSION\n"
        "assert compress_len()(bytes(1000)) > 0\n"
    )
    built = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert built.returncode == 0, built.stderr
    assert {p.name.split("-")[0] for p in (tmp_path / "cache").glob("*.so")} == {"salt_native", "fastlz"}
