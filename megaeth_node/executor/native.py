"""AOT-compiled contracts in the executor: hot-contract detection, background compilation and a swap
to native code at a transaction boundary (`--aot off|auto|always`, config `aot.mode`).

`with_native(state_class)` returns the state class unchanged, or a subclass whose computation class
mixes in `aot.host.NativeComputation`. Native code implements Cancun semantics for every opcode it
compiles (arithmetic, memory, environment, SLOAD/SSTORE with EIP-2929/2200/3529 costs); the rest runs
through the computation's own opcode table. So native is used only when the computation class is
*proved* to execute those opcodes exactly as Cancun does (`native_eligible`): each such opcode is
py-evm's plain `_FastOpcode` with Cancun's logic function and static gas, no opcode beyond Cancun's
table is defined, and the frame loop (`apply_computation`) is py-evm's. Cancun and OP/Isthmus
(Prague) computations qualify; MegaETH Rex does not (its table wraps opcodes for storage gas and
compute-gas metering), so Rex blocks always run on the interpreter.

In `auto` a code hash becomes hot after HOT_CALLS top-level-or-nested frames; it is then compiled on
one background thread into the content-addressed cache (aot.cache). Finished builds are published
only when a transaction starts (a frame without a parent), so a transaction never mixes interpreted
and native runs of the same code. `always` compiles synchronously on first sight. Contracts the cache
refuses (size or time budget, compiler missing) stay interpreted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from eth.vm.computation import BaseComputation
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.opcode import _FastOpcode

from aot.host import NativeComputation
from aot.loader import Contract
from aot.opcodes import OPS

log = logging.getLogger(__name__)
HOT_CALLS = 16
MODES = ("off", "auto", "always")


def _same_opcode(a: Any, b: Any) -> bool:
    if type(a) is not _FastOpcode or type(b) is not _FastOpcode:
        return False
    return (a.logic_fn is b.logic_fn or a.logic_fn == b.logic_fn) and a.gas_cost == b.gas_cost


def native_eligible(computation_class: type) -> bool:
    """True when native code is gas- and state-exact for `computation_class` (see the module doc)."""
    table, cancun = computation_class.opcodes, CancunComputation.opcodes
    if set(table) - set(OPS):
        return False
    for op, info in OPS.items():
        if not info.host and not _same_opcode(table.get(op), cancun.get(op)):
            return False
    owner = next(k for k in computation_class.__mro__ if "apply_computation" in k.__dict__)
    return owner is BaseComputation


class NativeRegistry:
    """Compiled contracts by code for one node: counting, background builds, publication."""

    def __init__(self, mode: str, cache_dir: Path, timeout_s: float = 30.0) -> None:
        if mode not in MODES:
            raise ValueError(f"aot mode must be one of {MODES}, not {mode!r}")
        self.mode, self.cache_dir, self.timeout_s = mode, cache_dir, timeout_s
        self._cache: Any = None
        self._active: dict[bytes, Contract] = {}
        self._ready: dict[bytes, Contract] = {}
        self._calls: dict[bytes, int] = {}
        self._submitted: set[bytes] = set()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def cache(self) -> Any:
        if self._cache is None:
            from aot.cache import Budget, NativeCache
            from aot.toolchain import find_compiler

            self._cache = NativeCache(self.cache_dir, find_compiler(), "cancun", Budget(timeout_s=self.timeout_s))
        return self._cache

    def _build(self, code: bytes) -> None:
        try:
            contract = self.cache().compile(code)
        except Exception as e:  # noqa: BLE001 - a failed build only means the code stays interpreted
            log.warning("aot: compile failed, interpreting: %s", e)
            return
        if contract is not None:
            with self._lock:
                self._ready[code] = contract

    def begin_transaction(self) -> None:
        """Publish the builds finished since the last transaction started."""
        if self._ready:
            with self._lock:
                self._active.update(self._ready)
                self._ready.clear()

    def lookup(self, code: bytes) -> Contract | None:
        """The native contract for `code`, counting calls and starting a build once it is hot."""
        if self.mode == "off" or not code:
            return None
        found = self._active.get(code)
        if found is not None or code in self._submitted:
            return found
        if self.mode == "always":
            self._submitted.add(code)
            self._build(code)
            self.begin_transaction()
            return self._active.get(code)
        n = self._calls[code] = self._calls.get(code, 0) + 1
        if n >= HOT_CALLS:
            self._submitted.add(code)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="aot-build")
            self._pool.submit(self._build, code)
        return None

    def publish(self, contracts: Mapping[bytes, Contract]) -> None:
        """Run these already-built contracts (code → contract, e.g. one library built for many codes)
        natively from the next transaction on."""
        with self._lock:
            self._ready.update(contracts)
        self._submitted.update(contracts)

    def compiled(self) -> frozenset[bytes]:
        """The codes that run natively from the next transaction on."""
        with self._lock:
            return frozenset(self._active) | frozenset(self._ready)

    def wait(self) -> None:
        """Block until submitted builds finish (tests, benchmarks)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


_registry: NativeRegistry | None = None


def configure(mode: str, cache_dir: Path, timeout_s: float = 30.0) -> NativeRegistry | None:
    """Set the node-wide AOT mode (None when off); called once at start-up."""
    global _registry
    _registry = None if mode == "off" else NativeRegistry(mode, cache_dir, timeout_s)
    return _registry


def with_native(state_class: type, registry: NativeRegistry | None = None) -> type:
    """`state_class`, or a subclass running hot contracts natively when AOT is on and proved exact."""
    registry = registry or _registry
    base = getattr(state_class, "computation_class", None)
    if registry is None or base is None or not native_eligible(base):
        return state_class
    key = (state_class, id(registry))
    cached = _classes.get(key)
    if cached is not None:
        return cached

    class _Computation(NativeComputation, base):  # type: ignore[misc, valid-type]
        native = staticmethod(registry.lookup)

        @classmethod
        def apply_computation(cls, state: Any, message: Any, transaction_context: Any,
                              parent_computation: Any = None) -> Any:
            if parent_computation is None:
                registry.begin_transaction()
            return super().apply_computation(state, message, transaction_context, parent_computation)

    _Computation.__name__ = _Computation.__qualname__ = f"Native{base.__name__}"
    cls = type(f"Native{state_class.__name__}", (state_class,), {"computation_class": _Computation})
    _classes[key] = cls
    return cls


_classes: dict[tuple[type, int], type] = {}
