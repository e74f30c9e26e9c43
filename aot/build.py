"""Build C/C++ source into a shared object with the discovered compiler."""

from __future__ import annotations

import subprocess
from pathlib import Path

from aot.toolchain import Compiler

C_FLAGS = ("-std=c2x", "-O2", "-fPIC", "-shared")


class BuildError(RuntimeError):
    """The compiler rejected the source or did not finish within the time budget."""


def compile_shared(cc: Compiler, source: str, out: Path, flags: tuple[str, ...] = C_FLAGS,
                   timeout_s: float = 120.0) -> Path:
    """Compile C `source` to the shared object `out`; raise BuildError with the compiler's message."""
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_suffix(".c")
    src.write_text(source)
    cmd = [*cc.argv, *flags, "-o", str(out), str(src)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise BuildError(f"compile timed out after {timeout_s:.0f} s: {' '.join(cmd)}") from e
    if res.returncode != 0:
        raise BuildError(f"compile failed ({' '.join(cmd)}):\n{res.stderr.strip()}")
    return out
