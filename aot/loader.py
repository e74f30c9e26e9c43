"""Build generated C into a shared object and run its contract functions: through aot.invoke's extension, or
through cffi (libffi) where the extension cannot be built."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import cffi

from aot import invoke
from aot.analysis import Program
from aot.build import cache_dir, compile_object, compile_shared_parts
from aot.codegen import RUNTIME, emit_units
from aot.opcodes import ARITY
from aot.toolchain import Compiler

# -mno-implicit-float: no vector registers for integer moves. A 256-bit value handed between functions in
# memory is then stored and loaded as four 64-bit limbs alike; with 16-byte loads of a value stored limb
# by limb the loads wait for the stores (failed store forwarding): snailtracer -17%, weierstrudel -8% CPU.
AOT_FLAGS = ("-std=c2x", "-O2", "-fno-vectorize", "-fno-slp-vectorize", "-mno-implicit-float", "-fPIC", "-shared",
             "-fvisibility=hidden", "-w")

_CDEF = """
typedef struct aot_slot {
    uint8_t key[32];
    uint8_t cur[32];
    uint8_t orig[32];
    uint32_t flags;
    uint32_t pad;
} aot_slot;
typedef struct aot_frame {
    int64_t gas;
    uint64_t pc;
    const uint8_t *calldata;
    uint64_t calldata_size;
    const uint8_t *code;
    uint64_t code_size;
    char *mem;                 /* uint8_t * in C: char * here makes ffi.unpack give bytes */
    uint64_t mem_size;
    uint64_t mem_cap;
    uint64_t out_offset;
    uint64_t out_size;
    int32_t (*host)(struct aot_frame *f, uint32_t op, uint32_t pc);
    void *handle;
    uint8_t io[7][32];
    int32_t err;
    uint32_t is_static;
    int64_t refund;
    aot_slot *slots;
    uint64_t slot_count;
    uint64_t slot_cap;
    uint32_t *slot_index;
    uint64_t slot_mask;
    uint64_t returndata_size;
    uint64_t env_valid;
    uint8_t env[16][32];
    void *stack;
    struct { uint64_t n[4]; uint64_t mu[5]; uint64_t seen[4]; } mod;
    uint32_t rex_sstore;
    uint32_t rex_log;
    int64_t kv_room;
    int64_t kv_writes;
    int64_t log_room;
    int64_t log_bytes;
    int64_t log_storage_gas;
    int64_t log_topic_gas;
    int64_t log_byte_gas;
    char *logs;
    uint64_t log_size;
    uint64_t log_cap;
} aot_frame;
"""
_LIB_CDEF = ("int aot_mem_resize(aot_frame *f, uint64_t size);\nvoid aot_mem_free(aot_frame *f);\n"
             "void aot_slots_clear(aot_frame *f);\n")

ffi = cffi.FFI()
ffi.cdef(_CDEF)

STOP, RETURN, REVERT, OOG, BAD_JUMP, UNDERFLOW, OVERFLOW, INVALID, HOST_ERROR, STATIC = range(10)
HOST_ENV, HOST_SLOAD = 0x100, 0x200
SLOAD_CANNOT_PAY = (0, 0, 4)  # HOST_SLOAD's answer for an SLOAD that cannot pay for the slot: nothing is read
SLOT_WARM, SLOT_WARMED, SLOT_DIRTY = 1, 2, 4
SLOT_SIZE = ffi.sizeof("aot_slot")
_SLOT_FLAGS = ffi.offsetof("aot_slot", "flags")



class Host(Protocol):
    """Serves a native frame's host requests (runtime.h). `opcode(frame, op, pc, gas, args)` runs host opcode
    `op` at `pc` with `gas` visible to it and its stack arguments (ints, deepest first), or gives the value of
    environment opcode op for HOST_ENV | op (no arguments, no gas): (status, gas left, pushed value or None).
    `sload(key, gas)` answers HOST_SLOAD with (current, original, flags) or a status (above 0) that ends the
    frame. Answers are tuples of ints (words below 2^256, statuses below 2^31, flags below 256); any other
    answer ends the frame with HOST_ERROR."""

    def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> tuple[int, int, int | None]: ...

    def sload(self, key: int, gas: int) -> tuple[int, int, int] | int: ...

Frame = tuple[Any, list[Any], Any, int, bool]  # (frame, host box, handle, address, pool member)


ENTRY = "int32_t {}(aot_frame *f, int64_t gas, const char *calldata, uint64_t calldata_size, " \
    "const char *callvalue, uint32_t is_static);"
POOL_SIZE = 16
# A pooled frame keeps a memory buffer up to this size (runtime.h's AOT_KEEP_MEM) when it is put back.
KEEP_MEM = 1 << 20
_CONSTANTS = {"KEEP_MEM": KEEP_MEM, "STATUS_RETURN": RETURN, "STATUS_REVERT": REVERT,
              "STATUS_HOST_ERROR": HOST_ERROR, "HOST_SLOAD": HOST_SLOAD, "ARITY": ARITY,
              "SLOT_SIZE": SLOT_SIZE, "SLOT_FLAGS": _SLOT_FLAGS, "SLOT_WARMED": SLOT_WARMED,
              "SLOT_DIRTY": SLOT_DIRTY,
              **{f"OFF_{field.upper()}": ffi.offsetof("aot_frame", field)
                 for field in ("gas", "mem", "mem_cap", "out_offset", "out_size", "refund", "host", "handle", "io",
                               "slots", "slot_count", "logs", "log_size")}}
_ZERO_WORD = bytes(32)


@ffi.callback("int32_t(aot_frame *, uint32_t, uint32_t)", onerror=lambda *_: HOST_ERROR)
def _host_trampoline(frame: Any, op: int, pc: int) -> int:
    """The frames' host function where aot.invoke's extension is missing (its `host_call` otherwise)."""
    host = ffi.from_handle(frame.handle)[0]
    if op == HOST_SLOAD:
        return _sload_io(frame, host)
    n = ARITY[op] if op < 256 else 0
    raw = ffi.buffer(frame.io, 32 * n)[:]
    answer = host.opcode(frame, op, pc, frame.gas,
                         [int.from_bytes(raw[k:k + 32], "little") for k in range(32 * n - 32, -32, -32)])
    if type(answer) is not tuple or len(answer) != 3:
        return HOST_ERROR
    status, gas, value = answer
    if not (_is_status(status, 0) and isinstance(gas, int) and -2**63 <= gas < 2**63
            and (value is None or _is_word(value))):
        return HOST_ERROR
    frame.gas = gas
    if value is not None:
        ffi.memmove(frame.io[0], value.to_bytes(32, "little"), 32)
    return status  # type: ignore[no-any-return]


def _is_status(v: Any, lo: int) -> bool:
    """Whether a host's answer `v` is a status in [lo, 2^31) (aot.invoke's host function checks the same)."""
    return isinstance(v, int) and lo <= v < 2**31


def _is_word(v: Any) -> bool:
    """Whether a host's answer `v` is a word: an int in [0, 2^256)."""
    return isinstance(v, int) and 0 <= v < 2**256


def _slot_changes(frame: Any) -> tuple[list[int], list[tuple[int, int]]]:
    """`Library.take_slots`'s reading where aot.invoke's extension is missing (its `slot_changes` otherwise)."""
    raw = bytes(ffi.buffer(frame.slots, int(frame.slot_count) * SLOT_SIZE))
    warmed, written = [], []
    for base in range(0, len(raw), SLOT_SIZE):
        flags = raw[base + _SLOT_FLAGS]
        if flags & (SLOT_WARMED | SLOT_DIRTY):
            key = int.from_bytes(raw[base:base + 32], "little")
            if flags & SLOT_WARMED:
                warmed.append(key)
            if flags & SLOT_DIRTY:
                written.append((key, int.from_bytes(raw[base + 32:base + 64], "little")))
    return warmed, written


def _log_records(frame: Any) -> list[tuple[tuple[int, ...], bytes]]:
    """`Library.take_logs`'s reading where aot.invoke's extension is missing (its `log_records` otherwise)."""
    raw = bytes(ffi.buffer(frame.logs, int(frame.log_size)))
    records, i = [], 0
    while i < len(raw):
        topics, size = raw[i], int.from_bytes(raw[i + 1:i + 5], "little")
        i += 5
        words = tuple(int.from_bytes(raw[i + 32 * k:i + 32 * k + 32], "little") for k in range(topics))
        i += 32 * topics
        records.append((words, raw[i:i + size]))
        i += size
    return records


def _sload_io(frame: Any, host: Any) -> int:
    """HOST_SLOAD: `host.sload` of io[0] for an instruction that can pay io[1] (an int64) gas; its answer
    (current, original, flags) into io[0], io[1] and io[2][0] (runtime.h), or its status (above 0)."""
    raw = ffi.buffer(frame.io, 40)[:]
    answer = host.sload(int.from_bytes(raw[:32], "little"), int.from_bytes(raw[32:], "little", signed=True))
    if type(answer) is not tuple or len(answer) != 3:
        return answer if _is_status(answer, 1) else HOST_ERROR  # type: ignore[no-any-return]
    current, original, flags = answer
    if not (_is_word(current) and _is_word(original) and _is_status(flags, 0) and flags < 256):
        return HOST_ERROR
    ffi.memmove(frame.io, current.to_bytes(32, "little") + original.to_bytes(32, "little"), 64)
    frame.io[2][0] = flags
    return 0


class Outcome(NamedTuple):
    """How a native run ended: status (module constants), gas left and output bytes (a tuple: built
    on every run, faster than a dataclass)."""

    status: int
    gas_left: int
    output: bytes
    refund: int = 0


_new_tuple = tuple.__new__


class Library:
    """A loaded shared object holding compiled contract functions, and a pool of reusable frames
    (each keeps its memory, stack and storage-cache buffers between runs).

    Only the first POOL_SIZE frames made are pool members; a deeper call chain runs on extra frames whose
    buffers are freed as each run ends. Were the pool refilled with whichever frames come back first (the
    deepest, made last), they would pin the top of malloc's heap and keep every buffer freed below them
    resident: static_Call1MB1024Calldepth (1,024 nested frames of 1 MB) left ~1.1 GB resident after its
    transaction, against ~60 MB interpreted."""

    def __init__(self, path: Path, names: list[str], cc: Compiler | None = None) -> None:
        """Load `path`; with `cc`, entries are run through aot.invoke's extension (else libffi)."""
        self.path = path
        lib_ffi = cffi.FFI()
        lib_ffi.include(ffi)
        lib_ffi.cdef(_LIB_CDEF + "\n".join(ENTRY.format(n) for n in names))
        self._ffi = lib_ffi
        self.lib = lib_ffi.dlopen(str(path))
        # aot.invoke's module (host requests and slot reads in C), None where it cannot be built or without `cc`
        self.extension = None if cc is None else invoke.extension(cc, runtime_dir(), _CONSTANTS)
        self.frames: list[Frame] = []
        self.members = 0  # frames made as pool members (at most POOL_SIZE)

    def new_frame(self) -> Frame:
        """A frame with its host box (box[0] serves host calls), the handle keeping the box alive, the
        frame's address and whether it is a pool member."""
        frame = ffi.gc(ffi.new("aot_frame *"), partial(_free_frame, self.lib))
        box: list[Any] = [_no_host, frame]
        address = int(ffi.cast("uintptr_t", frame))
        handle = None
        if self.extension is not None:
            self.extension.attach(address, box)
        else:
            handle = ffi.new_handle(box)
            frame.host, frame.handle = _host_trampoline, handle
        member = self.members < POOL_SIZE
        self.members += member
        return frame, box, handle, address, member

    def release(self, entry: Frame) -> None:
        """Put a frame back after its run: a member into the pool (its buffers freed if its memory grew
        over KEEP_MEM); any other frame's buffers are freed now, not when the last reference to the frame
        goes (a py-evm computation's memory adapter may hold it until a cyclic garbage collection)."""
        entry[1][0] = _no_host
        entry[0].rex_sstore = entry[0].rex_log = 0  # a host sets them per run (aot.host); pooled runs have none
        if not entry[4] or entry[0].mem_cap > KEEP_MEM:
            self.lib.aot_mem_free(entry[0])
        if entry[4]:
            self.frames.append(entry)

    def function(self, name: str) -> invoke.Runners:
        """Entry `name`'s runners (see aot.invoke.Runners)."""
        fn = getattr(self.lib, name)
        if self.extension is not None:
            return invoke.runners(self.extension, Outcome, int(self._ffi.cast("uintptr_t", fn)), self.frames,
                                  self.new_frame, _no_host)

        def run(address: int, gas: int, calldata: bytes, value: bytes | None, is_static: bool) -> Outcome:
            frame = ffi.cast("aot_frame *", address)
            status = fn(frame, gas, calldata, len(calldata), value or _ZERO_WORD, is_static)
            output = ffi.unpack(frame.mem + frame.out_offset, frame.out_size) \
                if status in (RETURN, REVERT) and frame.out_size else b""
            return _new_tuple(Outcome, (status, frame.gas, output, frame.refund))  # skips NamedTuple's __new__

        frames = self.frames

        def pooled(gas: int, calldata: bytes, host: Host | None, value: int, is_static: bool) -> Outcome:
            entry = frames.pop() if frames else self.new_frame()
            if host is not None:
                entry[1][0] = host
            try:
                return run(entry[3], gas, calldata, value.to_bytes(32, "little") if value else None, is_static)
            finally:
                self.release(entry)
        return invoke.Runners(run, pooled)

    def mem_resize(self, frame: Any, size: int) -> bool:
        return bool(self.lib.aot_mem_resize(frame, size))

    def take_slots(self, frame: Any) -> tuple[list[int], list[tuple[int, int]]]:
        """The keys of the slots the frame made warm and the (key, value) pairs it wrote, from its slot cache,
        which is then emptied."""
        if self.extension is not None:
            changes = self.extension.slot_changes(int(ffi.cast("uintptr_t", frame)))
        else:
            changes = _slot_changes(frame)
        self.lib.aot_slots_clear(frame)
        return changes  # type: ignore[no-any-return]

    def take_logs(self, frame: Any) -> list[tuple[tuple[int, ...], bytes]]:
        """The (topics, data) of the LOGs the frame ran natively (runtime.h aot_log) since the last take, in
        order; the records are then dropped."""
        if self.extension is not None:
            records = self.extension.log_records(int(ffi.cast("uintptr_t", frame)))
        else:
            records = _log_records(frame)
        frame.log_size = 0
        return records  # type: ignore[no-any-return]


class Contract:
    """One compiled contract: its code and the native function that runs it."""

    def __init__(self, library: Library, name: str, code: bytes) -> None:
        self.library, self.name, self.code = library, name, code
        # pooled(gas, calldata, host, value, is_static): run() without frame callbacks, and without a
        # Python frame of its own where aot.invoke's extension runs it
        self._run, self.pooled = library.function(name)
        self._frames = library.frames

    def run(self, gas: int, calldata: bytes, host: Host | None = None,
            on_frame: Callable[[Any], None] | None = None,
            on_exit: Callable[[Any, int], None] | None = None, value: int = 0, is_static: bool = False) -> Outcome:
        """Execute with `gas`, `calldata` and call `value` (static call: SSTORE fails); `host` serves host
        opcodes and storage loads (`Host`). `on_frame` sees the frame before it runs (e.g. to bind memory
        adapters), `on_exit(frame, status)` after it ran, before the frame goes back to the pool."""
        if on_frame is None and on_exit is None:
            return self.pooled(gas, calldata, host, value, is_static)
        frames = self._frames
        entry = frames.pop() if frames else self.library.new_frame()
        box = entry[1]
        if host is not None:
            box[0] = host
        try:
            if on_frame is not None:
                on_frame(entry[0])
            out = self._run(entry[3], gas, calldata, value.to_bytes(32, "little") if value else None, is_static)
            if on_exit is not None:
                on_exit(entry[0], out[0])
            return out
        finally:
            self.library.release(entry)


class _NoHost:
    """The host of a frame between runs and of runs given none: every host request fails the frame."""

    def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> tuple[int, int, None]:
        return INVALID, gas, None

    def sload(self, key: int, gas: int) -> int:
        return INVALID


_no_host = _NoHost()


def _free_frame(lib: Any, frame: Any) -> None:
    """A frame's destructor: frees its buffers with the runtime of `lib`, which it keeps loaded until then
    (a library is unloaded once no Contract, pool or frame refers to it)."""
    lib.aot_mem_free(frame)


SPLIT_MIN_INSTRS = 3_000


def parallel_parts(programs: list[tuple[str, Program]]) -> int:
    """How many units to compile in parallel: one per core for large code, else one."""
    instrs = sum(len(p.blocks[s].instrs) for _, p in programs for s in p.reachable)
    return max(1, min(os.cpu_count() or 1, instrs // SPLIT_MIN_INSTRS))


def runtime_dir() -> Path:
    """Where build products shared by all contracts are cached: `$MEGAETH_CACHE_DIR/aot-runtime/`."""
    return cache_dir() / "aot-runtime"


def runtime_object(cc: Compiler) -> Path:
    """runtime.h's out-of-line helpers compiled once per (runtime text, flags, compiler) into an object
    that every contract's shared object links."""
    key = hashlib.sha256("\0".join((RUNTIME, *AOT_FLAGS, cc.version_text)).encode()).hexdigest()[:24]
    path = runtime_dir() / f"{key}.o"
    if not path.exists():
        compile_object(cc, "#define AOT_RUNTIME\n" + RUNTIME, path, AOT_FLAGS)
    return path


def build_library(cc: Compiler, programs: list[tuple[str, Program]], out: Path,
                  timeout_s: float = 120.0, parts: int | None = None) -> Library:
    """Generate, compile (large code as parallel units) and load one shared object holding every
    (name, program)."""
    units = emit_units(programs, parallel_parts(programs) if parts is None else parts)
    compile_shared_parts(cc, units, out, AOT_FLAGS, timeout_s, (runtime_object(cc),))
    return Library(out, [n for n, _ in programs], cc)


def build_temp(cc: Compiler, programs: list[tuple[str, Program]], timeout_s: float = 120.0) -> Library:
    """As build_library, in a temporary directory removed once loaded."""
    with tempfile.TemporaryDirectory(prefix="megaeth-aot-") as tmp:
        return build_library(cc, programs, Path(tmp) / "unit.so", timeout_s)
