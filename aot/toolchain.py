"""C compiler discovery: clang >= 16 (for `unsigned _BitInt(256)`, spec/aot.md §7) or the ziglang wheel.

Order: `$MEGAETH_CC` (exclusive when set), clang-19, clang-18, clang-17, clang-16, `clang` if >= 16,
then `python -m ziglang cc`. `python -m aot.toolchain --install` installs one when none is found.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass

MIN_CLANG_MAJOR = 16
CANDIDATES = ("clang-19", "clang-18", "clang-17", "clang-16", "clang")
APT_PACKAGE = "clang-19"


class ToolchainError(RuntimeError):
    """No usable C compiler (clang >= 16 or zig cc) was found."""


@dataclass(frozen=True, slots=True)
class Compiler:
    """A usable compiler: the argv prefix that invokes it and its clang major version."""

    argv: tuple[str, ...]
    major: int
    version_text: str

    @property
    def label(self) -> str:
        return f"{' '.join(self.argv)} (clang {self.major})"


def _clang_major(argv: tuple[str, ...]) -> tuple[int, str] | None:
    """Run `argv --version` and return (major, first line) when it is clang-based."""
    try:
        out = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stdout + out.stderr
    m = re.search(r"clang version (\d+)", text)
    if out.returncode != 0 or not m:
        return None
    return int(m.group(1)), text.strip().splitlines()[0]


def _probe(argv: tuple[str, ...]) -> Compiler | None:
    found = _clang_major(argv)
    if found is None or found[0] < MIN_CLANG_MAJOR:
        return None
    return Compiler(argv, found[0], found[1])


def _zig_argv() -> tuple[str, ...] | None:
    if importlib.util.find_spec("ziglang") is None:
        return None
    return (sys.executable, "-m", "ziglang", "cc")


def find_compiler() -> Compiler:
    """Return the first usable compiler in discovery order, or raise ToolchainError saying what was tried.

    A found compiler is remembered per process for the same `$MEGAETH_CC` and `$PATH` (each probe runs the
    compiler) while its executable is still there; a failed search is not."""
    key = os.environ.get("MEGAETH_CC", ""), os.environ.get("PATH")
    found = _find(*key)
    if shutil.which(found.argv[0], path=key[1]) is None:  # removed since: search again
        _find.cache_clear()
        found = _find(*key)
    return found


@functools.cache
def _find(explicit: str, path: str | None) -> Compiler:
    if explicit:
        argv = tuple(shlex.split(explicit))
        found = _probe(argv)
        if found is None:
            raise ToolchainError(
                f"MEGAETH_CC={explicit!r} is not a clang >= {MIN_CLANG_MAJOR} compiler "
                "(unset it to use automatic discovery)"
            )
        return found
    tried = []
    for name in CANDIDATES:
        exe = shutil.which(name, path=path)
        tried.append(name)
        if exe and (found := _probe((exe,))):
            return found
    zig = _zig_argv()
    tried.append("python -m ziglang cc")
    if zig and (found := _probe(zig)):
        return found
    raise ToolchainError(
        f"no clang >= {MIN_CLANG_MAJOR} found (tried {', '.join(tried)}); "
        f"run `python -m aot.toolchain --install` (apt {APT_PACKAGE} as root, else the ziglang wheel)"
    )


def install() -> str:
    """Install a compiler when none is usable; return a sentence saying what was done."""
    try:
        return f"compiler present: {find_compiler().label}"
    except ToolchainError:
        pass
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([apt, "update", "-qq"], check=True, env=env)
        subprocess.run([apt, "install", "-y", "-qq", APT_PACKAGE], check=True, env=env)
        how = f"installed {APT_PACKAGE} with apt"
    else:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "ziglang"], check=True)
        how = "installed the ziglang wheel"
    return f"{how}: {find_compiler().label}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aot.toolchain", description=__doc__)
    parser.add_argument("--install", action="store_true", help="install a compiler if none is found")
    args = parser.parse_args(argv)
    try:
        print(install() if args.install else find_compiler().label)
    except (ToolchainError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
