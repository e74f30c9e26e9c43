"""AOT-compiled contracts in the executor: hot-contract detection, background compilation and a swap
to native code at a transaction boundary (`--aot off|auto|always`, config `aot.mode`).

`with_native(state_class)` returns the state class unchanged, or a subclass whose computation class runs
compiled contracts. Native code of a flavour (aot.opcodes) implements Cancun semantics for every opcode
it compiles; the rest runs through the computation's own opcode table (the host). So native is used only
when the computation class is *proved* to execute the compiled opcodes exactly as Cancun does
(`native_flavour`): each is py-evm's plain `_FastOpcode` with Cancun's logic function and static gas, no
opcode beyond Cancun's table is defined, and the frame loop is a known one:
- "cancun": py-evm's own `apply_computation` (Cancun, OP/Isthmus); frames run through
  `aot.host.NativeComputation`.
- "rex": `RexComputation`'s loop (MiniRex…Rex2), whose wrapped opcodes (storage gas, detention) are all
  host opcodes of this flavour; frames run through `executor.rex_native`, which meters compute gas and
  asks for an interpreted re-run of the transaction when it cannot match the interpreter (`NativeAbort`).

In `auto` a code hash becomes hot after HOT_CALLS top-level-or-nested frames; it is then compiled on
one background thread into the content-addressed cache (aot.cache). Finished builds are published
only when a transaction starts (a frame without a parent), so a transaction never mixes interpreted
and native runs of the same code. `always` compiles synchronously on first sight. Contracts the cache
refuses (size or time budget, compiler missing) stay interpreted.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from eth.vm.computation import BaseComputation
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.opcode import _FastOpcode

from aot.host import NativeComputation
from aot.loader import Contract
from aot.opcodes import LOG0, LOG4, OPS, SLOAD, SSTORE, ops_for

from megaeth_node.executor.rex import RexComputation, rex_sload
from megaeth_node.executor.rex_native import run_native

log = logging.getLogger(__name__)
HOT_CALLS = 16
MAX_ACTIVE = 4096  # published contracts kept loaded per registry (a shared object each, or part of a batch)
MAX_COUNTED = 65_536  # codes whose calls are counted towards HOT_CALLS at once
MODES = ("off", "auto", "always")


def _same_opcode(a: Any, b: Any) -> bool:
    if type(a) is not _FastOpcode or type(b) is not _FastOpcode:
        return False
    return (a.logic_fn is b.logic_fn or a.logic_fn == b.logic_fn) and a.gas_cost == b.gas_cost


# Native opcodes whose flavour rule comes from a flag the host sets (not Cancun's logic): the interpreter
# must run exactly this function for them. Rex SLOAD: the oracle's always-cold slots (AOT_SLOT_COLD); Rex
# SSTORE and LOGn: the wrappers, whose limit cases (and SSTORE's storage gas) native code hands to the host
# (rex_sstore, rex_log).
_FLAGGED: dict[str, dict[int, Any]] = {"rex": {SLOAD: rex_sload, SSTORE: RexComputation.opcodes[SSTORE],
                                               **{op: RexComputation.opcodes[op] for op in range(LOG0, LOG4 + 1)}}}


@functools.cache  # with_native asks at every block; a class's table and loop never change
def native_flavour(computation_class: type) -> str | None:
    """The native flavour that is gas- and state-exact for `computation_class`, or None (see the module doc)."""
    owner = next(k for k in computation_class.__mro__ if "apply_computation" in k.__dict__)
    flavour = {BaseComputation: "cancun", RexComputation: "rex"}.get(owner)
    if flavour is None:
        return None
    table, cancun = computation_class.opcodes, CancunComputation.opcodes
    if set(table) - set(OPS):
        return None
    flagged = _FLAGGED.get(flavour, {})
    for op, info in ops_for(flavour).items():
        if info.host:
            continue
        if op in flagged:
            if table.get(op) is not flagged[op]:
                return None
        elif not _same_opcode(table.get(op), cancun.get(op)):
            return None
    return flavour


class NativeRegistry:
    """Compiled contracts by code for one node: counting, background builds, publication.

    At most `max_active` contracts stay published (loaded); past that the least recently used are dropped
    as a transaction starts (their shared objects unload once no frame runs them) and counted afresh, so a
    long-running node's memory does not grow with every contract that was ever hot."""

    def __init__(self, mode: str, cache_dir: Path, timeout_s: float = 30.0, flavour: str = "cancun",
                 max_active: int = MAX_ACTIVE) -> None:
        if mode not in MODES:
            raise ValueError(f"aot mode must be one of {MODES}, not {mode!r}")
        ops_for(flavour)  # a known flavour
        self.mode, self.cache_dir, self.timeout_s, self.flavour = mode, cache_dir, timeout_s, flavour
        self.max_active = max_active
        self._cache: Any = None
        self._classes: dict[type, type] = {}  # with_native's classes running this registry's contracts
        self._active: dict[bytes, Contract] = {}  # in least-recently-used-first order
        self._ready: dict[bytes, Contract] = {}
        self._calls: dict[bytes, int] = {}
        self._submitted: set[bytes] = set()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.native_frames = 0  # frames handed native code so far

    def cache(self) -> Any:
        if self._cache is None:
            from aot.cache import Budget, NativeCache
            from aot.toolchain import find_compiler

            self._cache = NativeCache(self.cache_dir, find_compiler(), self.flavour, Budget(timeout_s=self.timeout_s))
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
        """Publish the builds finished since the last transaction started, then drop the least recently
        used contracts over `max_active`."""
        if self._ready:
            with self._lock:
                self._active.update(self._ready)
                self._ready.clear()
            active = self._active
            while len(active) > self.max_active:
                code = next(iter(active))
                del active[code]
                self._submitted.discard(code)

    def lookup(self, code: bytes) -> Contract | None:
        """The native contract for `code`, counting calls and starting a build once it is hot."""
        if self.mode == "off" or not code:
            return None
        active = self._active
        found = active.pop(code, None)
        if found is not None:
            active[code] = found  # most recently used last
            self.native_frames += 1
            return found
        if code in self._submitted:
            return None
        if self.mode == "always":
            self._submitted.add(code)
            self._build(code)
            self.begin_transaction()
            found = self._active.get(code)
            self.native_frames += found is not None
            return found
        if len(self._calls) >= MAX_COUNTED:  # codes seen but not hot: counted afresh rather than kept forever
            self._calls.clear()
        n = self._calls[code] = self._calls.get(code, 0) + 1
        if n >= HOT_CALLS:
            del self._calls[code]
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

    def prebuild(self, codes: Iterable[bytes], out_dir: Path, batch: int = 250, timeout_s: float = 900.0) -> None:
        """Compile `codes` ahead of use, `batch` per shared object (one compiler run each: far cheaper than
        a build per code) into `out_dir`, and publish them. Raises aot.build.BuildError if a build fails or
        takes over `timeout_s`."""
        from aot.analysis import analyse
        from aot.loader import build_library
        from aot.toolchain import find_compiler

        cc, todo = find_compiler(), sorted({c for c in codes if c}, key=lambda c: (len(c), c))
        out_dir.mkdir(parents=True, exist_ok=True)
        for start in range(0, len(todo), batch):
            part = todo[start:start + batch]
            names = [f"c{start + i}" for i in range(len(part))]
            programs = [(n, analyse(c, self.flavour)) for n, c in zip(names, part)]
            library = build_library(cc, programs, out_dir / f"{self.flavour}-{start}.so", timeout_s)
            self.publish({c: Contract(library, n, c) for n, c in zip(names, part)})

    def wait(self) -> None:
        """Block until submitted builds finish (tests, benchmarks)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


_config: tuple[str, Path, float] | None = None
_registries: dict[str, NativeRegistry] = {}


def configure(mode: str, cache_dir: Path, timeout_s: float = 30.0) -> None:
    """Set the node-wide AOT mode; called once at start-up ("off": everything interpreted)."""
    global _config
    _config = None if mode == "off" else (mode, cache_dir, timeout_s)
    _registries.clear()


def install(registry: NativeRegistry) -> None:
    """Make `registry` the node-wide one of its flavour (e.g. one holding prebuilt libraries) until `configure`."""
    _registries[registry.flavour] = registry


def registry_for(flavour: str) -> NativeRegistry | None:
    """The node-wide registry of `flavour` (None while AOT is off)."""
    found = _registries.get(flavour)
    if found is None and _config is not None:
        mode, cache_dir, timeout_s = _config
        found = _registries[flavour] = NativeRegistry(mode, cache_dir, timeout_s, flavour)
    return found


def with_native(state_class: type, registry: NativeRegistry | None = None) -> type:
    """`state_class`, or a subclass running hot contracts natively when AOT is on and proved exact."""
    base = getattr(state_class, "computation_class", None)
    flavour = native_flavour(base) if base is not None else None
    registry = registry or (registry_for(flavour) if flavour else None)
    if registry is None or flavour != registry.flavour:
        return state_class
    cached = registry._classes.get(state_class)
    if cached is not None:
        return cached
    computation = _native_computation(base, registry)
    computation.__name__ = computation.__qualname__ = f"Native{base.__name__}"
    cls = type(f"Native{state_class.__name__}", (state_class,), {"computation_class": computation})
    registry._classes[state_class] = cls  # on the registry: a module-wide cache would keep every registry
    return cls


def _native_computation(base: type, registry: NativeRegistry) -> type:
    """`base` running compiled code from `registry`: through aot.host.NativeComputation ("cancun") or
    RexComputation's own hook with executor.rex_native ("rex"); builds are published as a transaction starts."""
    if registry.flavour == "rex":
        def lookup(code: bytes) -> Any:
            contract = registry.lookup(code)
            return None if contract is None else functools.partial(run_native, contract)
        bases: tuple[type, ...] = (base,)
    else:
        lookup, bases = registry.lookup, (NativeComputation, base)

    class _Computation(*bases):  # type: ignore[misc]
        native = staticmethod(lookup)

        @classmethod
        def apply_computation(cls, state: Any, message: Any, transaction_context: Any,
                              parent_computation: Any = None) -> Any:
            if parent_computation is None:
                registry.begin_transaction()
            return super().apply_computation(state, message, transaction_context, parent_computation)

    return _Computation

