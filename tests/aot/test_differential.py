"""Random programs run on py-evm's interpreter and natively must agree on status, output, gas left,
refund, logs and state root. Each Hypothesis example is a batch of programs compiled into one shared
object (one clang run per batch); ≥10,000 programs under CI, fewer locally. Programs start from a
random pre-state (original storage values, slots already warm) and include storage/transient
storage on a few keys, REVERT, and calls back into themselves (CALL, DELEGATECALL, STATICCALL), which
run natively too and exercise the storage cache's write-back, reload and static-call refusal."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from shared_data import in_ci

from aot.analysis import analyse
from aot.loader import Contract, build_temp
from aot.reference import run_frame
from aot.toolchain import find_compiler

BATCH, BATCHES = (250, 40) if in_ci() else (60, 4)
U256 = 2**256
EDGE = (0, 1, 2, 3, 7, 31, 32, 33, 255, 256, 2**64 - 1, 2**64, 2**128 + 5, 2**255 - 1, 2**255, 2**255 + 1,
        U256 - 2, U256 - 1)
OFFSETS = (0, 1, 31, 32, 64, 100, 1000, 2**32, 2**64, U256 - 1)
SIMPLE = bytes(range(0x01, 0x0C)) + bytes(range(0x10, 0x1E)) + bytes.fromhex("3536385058595a5b")
HOST = bytes.fromhex("303132333441424344454647485c5d")
MEMORY = bytes.fromhex("5152532037393e5ef3fd")
STORAGE = bytes.fromhex("5455a0a1a2")
TERMINAL = bytes.fromhex("00fe0c21f3fd")


def push(v: int) -> bytes:
    n = max(1, (v.bit_length() + 7) // 8)
    return bytes([0x5F + n]) + v.to_bytes(n, "big")


@dataclass(frozen=True)
class Jump:
    """PUSH2 <k-th JUMPDEST, or a bad offset> followed by JUMP or JUMPI."""

    k: int
    conditional: bool


values = st.one_of(st.sampled_from(EDGE), st.integers(0, U256 - 1), st.integers(0, 64))
pieces = st.one_of(
    values.map(push),
    values.map(push),
    st.sampled_from(SIMPLE).map(bytes.__mul__ and (lambda b: bytes([b]))),
    st.integers(0x80, 0x83).map(lambda b: bytes([b])),
    st.integers(0x90, 0x92).map(lambda b: bytes([b])),
    st.sampled_from(OFFSETS).map(lambda o: push(o) + bytes([0x51])),
    st.tuples(st.sampled_from(OFFSETS[:6]), values).map(lambda t: push(t[1]) + push(t[0]) + b"\x52"),
    st.sampled_from(MEMORY).map(lambda b: bytes([b])),
    st.sampled_from(HOST + STORAGE).map(lambda b: bytes([b])),
    st.just(b"\x5b"),
    st.builds(Jump, st.integers(-1, 6), st.booleans()),
    st.sampled_from(TERMINAL).map(lambda b: bytes([b])),
    st.binary(min_size=1, max_size=3),
    st.just(b"\x5b\x5a\x61\x13\x88\x10\x60\x00\x57"),  # loop header: JUMPDEST; GAS < 5000 → exit
)
KEYS = st.sampled_from((0, 1, 2, 3, U256 - 1))
STORED = st.sampled_from((0, 0, 1, 2, 5, U256 - 1))


def _self_call(op: int, gas: int, args: int) -> bytes:
    """CALL/DELEGATECALL/STATICCALL to ADDRESS with `gas`, `args` bytes of memory as input, 32 out."""
    value = push(0) if op == 0xF1 else b""
    return push(32) + push(0) + push(args) + push(0) + value + b"\x30" + push(gas) + bytes([op])


storage_pieces = st.one_of(
    st.tuples(KEYS, STORED).map(lambda t: push(t[1]) + push(t[0]) + b"\x55"),  # SSTORE
    st.tuples(KEYS, STORED).map(lambda t: push(t[1]) + push(t[0]) + b"\x55"),
    KEYS.map(lambda k: push(k) + b"\x54"),  # SLOAD
    st.tuples(KEYS, STORED).map(lambda t: push(t[1]) + push(t[0]) + b"\x5d"),  # TSTORE
    KEYS.map(lambda k: push(k) + b"\x5c"),  # TLOAD
    st.tuples(st.sampled_from((0, 32)), st.sampled_from((0, 1))).map(lambda t: push(t[0]) + push(t[1]) + b"\xfd"),
    st.tuples(st.sampled_from((0xF1, 0xF4, 0xFA)), st.sampled_from((0, 3_000, 12_000, 60_000)),
              st.sampled_from((0, 32))).map(lambda t: _self_call(*t)),
    st.just(b"\x3d\x47"),  # RETURNDATASIZE SELFBALANCE
)


def assemble(parts: list[bytes | Jump]) -> bytes:
    """Lay out the pieces, then point each Jump at a JUMPDEST (k < 0 or no JUMPDEST: a bad target)."""
    offsets, pc = [], 0
    for p in parts:
        offsets.append(pc)
        pc += 4 if isinstance(p, Jump) else len(p)
    dests = [off for p, off in zip(parts, offsets) if isinstance(p, bytes) and p[:1] == b"\x5b"]
    code = bytearray()
    for p in parts:
        if isinstance(p, Jump):
            target = dests[p.k % len(dests)] if dests and p.k >= 0 else 3
            code += bytes([0x61]) + target.to_bytes(2, "big") + bytes([0x57 if p.conditional else 0x56])
        else:
            code += p
    return bytes(code)


prestate = st.tuples(st.dictionaries(st.sampled_from((0, 1, 2, 3)), st.integers(1, 3), max_size=3),
                     st.lists(st.sampled_from((0, 1, 2, 3)), max_size=2, unique=True).map(tuple))
programs = st.one_of(st.lists(pieces, max_size=24), st.lists(st.one_of(pieces, storage_pieces, storage_pieces),
                                                            max_size=24))
cases = st.tuples(programs.map(assemble), st.binary(max_size=40),
                  st.one_of(st.integers(0, 3_000), st.integers(0, 40_000), st.integers(20_000, 60_000)),
                  prestate)
Case = tuple[bytes, bytes, int, tuple[dict[int, int], tuple[int, ...]]]


@settings(max_examples=BATCHES, deadline=None, suppress_health_check=list(HealthCheck), database=None,
          phases=(Phase.explicit, Phase.generate))
@given(st.lists(cases, min_size=BATCH, max_size=BATCH))
def test_native_matches_interpreter(batch: list[Case]) -> None:
    lib = build_temp(find_compiler(), [(f"p{i}", analyse(code)) for i, (code, *_rest) in enumerate(batch)])
    for i, (code, calldata, gas, (storage, warm)) in enumerate(batch):
        want = run_frame(code, calldata, gas, storage=storage, warm_slots=warm)
        got = run_frame(code, calldata, gas, Contract(lib, f"p{i}", code), storage=storage, warm_slots=warm)
        assert got == want, f"code={code.hex()} calldata={calldata.hex()} gas={gas} storage={storage} warm={warm}"
