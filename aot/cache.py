"""Content-addressed cache of compiled contracts, with a compile budget and interpreter fallback.

A shared object is keyed by (keccak256(code), spec = native flavour (`aot.opcodes.FLAVOURS`), codegen
version, compiler version) and stored as
`<cache dir>/<key>.so`; it is built in a temporary directory and moved into place atomically, so
concurrent builders never see a partial file. Contracts over the size budget, or whose build exceeds
the time budget, are remembered as refused and run on the interpreter.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

from eth_hash.auto import keccak

from aot.analysis import analyse
from aot.build import BuildError, compile_shared_parts
from aot.codegen import CODEGEN_VERSION, RUNTIME, emit_units
from aot.loader import AOT_FLAGS, Contract, Library, parallel_parts, runtime_object
from aot.toolchain import Compiler

log = logging.getLogger(__name__)
FUNCTION = "contract"
RUNTIME_LINES = RUNTIME.count("\n")


@functools.cache
def _runtime_id() -> str:
    """What every object is built with besides its code: runtime.h and the compile flags."""
    return hashlib.sha256("\0".join((RUNTIME, *AOT_FLAGS)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Budget:
    """Limits on one contract's compilation: generated C lines and compiler wall time."""

    max_c_lines: int = 60_000
    timeout_s: float = 60.0


class NativeCache:
    """Compiled contracts by code, backed by a directory of shared objects. A loaded contract is remembered
    only while its user holds it (its shared object is unloaded once no one does); refusals are remembered."""

    def __init__(self, directory: Path, cc: Compiler, spec: str = "cancun", budget: Budget = Budget()) -> None:
        self.directory, self.cc, self.spec, self.budget = directory, cc, spec, budget
        self._loaded: weakref.WeakValueDictionary[bytes, Contract] = weakref.WeakValueDictionary()
        self._refused: set[bytes] = set()

    def key(self, code: bytes) -> str:
        """The cache key of `code` under this spec, codegen, runtime (the frame layout the object reads),
        flags and compiler, its command included (`MEGAETH_CC` may add flags)."""
        h = hashlib.sha256()
        for part in (keccak(code).hex(), self.spec, str(CODEGEN_VERSION), _runtime_id(), *self.cc.argv,
                     self.cc.version_text):
            h.update(part.encode() + b"\0")
        return h.hexdigest()

    def lookup(self, code: bytes) -> Contract | None:
        """The loaded contract for `code` if it was compiled before (memory or disk), else None."""
        found = self._loaded.get(code)
        if found is not None or code in self._refused:
            return found
        key = self.key(code)
        path = self.directory / f"{key}.so"
        if path.exists():
            found = self._loaded[code] = Contract(Library(path, [FUNCTION], self.cc), FUNCTION, code)
        elif self._over_budget_marker(key).exists():
            self._refused.add(code)
        return found

    def _over_budget_marker(self, key: str) -> Path:
        """Left where a refusal by size is remembered, so that other processes and restarts do not generate
        the code again to find out (seconds for the largest contracts); per size budget."""
        return self.directory / f"{key}.over-{self.budget.max_c_lines}"

    def compile(self, code: bytes) -> Contract | None:
        """Compile (or fetch) `code`; None when it is refused by the budget (run it interpreted)."""
        if (found := self.lookup(code)) is not None or code in self._refused:
            return found
        programs = [(FUNCTION, analyse(code, self.spec))]
        units = emit_units(programs, parallel_parts(programs))
        self.directory.mkdir(parents=True, exist_ok=True)
        if sum(u.count("\n") - RUNTIME_LINES for u in units) > self.budget.max_c_lines:
            log.info("aot: %d-byte contract over the size budget, interpreting", len(code))
            self._refused.add(code)
            self._over_budget_marker(self.key(code)).touch()
            return None
        final = self.directory / f"{self.key(code)}.so"
        with tempfile.TemporaryDirectory(prefix="build-", dir=self.directory) as tmp:
            built = Path(tmp) / "contract.so"
            try:
                compile_shared_parts(self.cc, units, built, AOT_FLAGS, self.budget.timeout_s,
                                     (runtime_object(self.cc),))
            except BuildError as e:
                log.warning("aot: build failed or over the time budget, interpreting: %s", str(e)[:200])
                self._refused.add(code)
                return None
            os.replace(built, final)
        found = self._loaded[code] = Contract(Library(final, [FUNCTION], self.cc), FUNCTION, code)
        return found
