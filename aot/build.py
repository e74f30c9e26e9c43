"""Build C/C++ source into a shared object with the discovered compiler."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from aot.toolchain import Compiler

C_FLAGS = ("-std=c2x", "-O2", "-fPIC", "-shared")


def cache_dir() -> Path:
    """Where every package of ours caches what it builds: `$MEGAETH_CACHE_DIR`, else ~/.cache/megaeth-node."""
    return Path(os.environ.get("MEGAETH_CACHE_DIR") or Path.home() / ".cache" / "megaeth-node")


class BuildError(RuntimeError):
    """The compiler rejected the source or did not finish within the time budget."""


def compile_shared(cc: Compiler, source: str, out: Path, flags: tuple[str, ...] = C_FLAGS,
                   timeout_s: float = 120.0, objects: tuple[Path, ...] = ()) -> Path:
    """Compile C `source` (linked with `objects`) to the shared object `out`; raise BuildError with
    the compiler's message."""
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_suffix(".c")
    src.write_text(source)
    run_compiler([*cc.argv, *flags, "-o", str(out), str(src), *map(str, objects)], timeout_s)
    return out


def _start(cmd: list[str]) -> subprocess.Popen[str]:
    """The compiler in a process group of its own, so that `_stop` reaches what it starts (`python -m
    ziglang cc` runs zig, which runs clang)."""
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Kill an unfinished compiler's whole process group."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run_compiler(cmd: list[str], timeout_s: float, what: str = "compile") -> None:
    """Run the compiler command `cmd` (in a process group of its own, killed whole when it overruns); raise
    BuildError with its message when it fails or overruns `timeout_s`."""
    proc = _start(cmd)
    try:
        _, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise BuildError(f"{what} timed out after {timeout_s:.0f} s: {' '.join(cmd)}") from e
    finally:
        _stop(proc)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed ({' '.join(cmd)}):\n{err.strip()}")


def compile_object(cc: Compiler, source: str, out: Path, flags: tuple[str, ...] = C_FLAGS,
                   timeout_s: float = 120.0) -> Path:
    """Compile C `source` to the object file `out` (written atomically: concurrent builders may share it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="obj-", dir=out.parent) as tmp:
        src, obj = Path(tmp) / "unit.c", Path(tmp) / "unit.o"
        src.write_text(source)
        run_compiler([*cc.argv, *(f for f in flags if f != "-shared"), "-c", "-o", str(obj), str(src)], timeout_s)
        os.replace(obj, out)
    return out


def compile_shared_parts(cc: Compiler, sources: list[str], out: Path, flags: tuple[str, ...] = C_FLAGS,
                         timeout_s: float = 120.0, objects: tuple[Path, ...] = ()) -> Path:
    """Compile several C units in parallel (one compiler process each) and link them with `objects`
    into the shared object `out`; a single unit is compile_shared. Raise BuildError as compile_shared does."""
    if len(sources) == 1:
        return compile_shared(cc, sources[0], out, flags, timeout_s, objects)
    out.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    compile_flags = [f for f in flags if f != "-shared"]
    procs, objs = [], []
    try:
        for i, source in enumerate(sources):
            src, obj = out.with_name(f"{out.stem}.{i}.c"), out.with_name(f"{out.stem}.{i}.o")
            src.write_text(source)
            cmd = [*cc.argv, *compile_flags, "-c", "-o", str(obj), str(src)]
            procs.append((cmd, _start(cmd)))
            objs.append(str(obj))
        for cmd, proc in procs:
            try:
                _, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as e:
                raise BuildError(f"compile timed out after {timeout_s:.0f} s: {' '.join(cmd)}") from e
            if proc.returncode != 0:
                raise BuildError(f"compile failed ({' '.join(cmd)}):\n{err.strip()}")
    finally:
        for _, proc in procs:
            _stop(proc)
    run_compiler([*cc.argv, *flags, "-o", str(out), *objs, *map(str, objects)], max(1.0, deadline - time.monotonic()),
                 "link")
    return out
