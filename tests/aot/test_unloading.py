"""Native memory stays bounded: a deep chain of nested frames leaves only the pool's member frames (with small
buffers) behind, and a registry keeps at most `max_active` contracts loaded, unloading the shared objects of
the ones it drops (counted in /proc/self/maps) and reloading them, with the same results, when they run
again."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import pytest

from aot.analysis import analyse
from aot.loader import INVALID, KEEP_MEM, POOL_SIZE, Contract, Library, build_library, ffi
from aot.toolchain import find_compiler

from megaeth_node.executor.native import NativeRegistry, with_native
from megaeth_node.executor.transact import CheckedCancunState

DEPTH = 3 * POOL_SIZE
# BALANCE(0) (a host opcode: the test's host nests the next frame there), then MSTORE at 2 MiB (memory past
# KEEP_MEM), then RETURN the word at 0.
NEST_THEN_GROW = bytes([0x5F, 0x31, 0x50, 0x60, 0x01, 0x62, 0x20, 0x00, 0x00, 0x52, 0x60, 0x20, 0x5F, 0xF3])


def _nest(contract: Contract, pooled: bool) -> tuple[list[Any], list[int]]:
    """Run `contract` DEPTH + 1 frames deep (each nested in the previous one's BALANCE); the outcomes and the
    frames' addresses, outermost first."""
    outs: list[Any] = []
    addresses: list[int] = []

    class Nesting:
        def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> tuple[int, int, None]:
            addresses.append(int(ffi.cast("uintptr_t", frame)))
            if len(addresses) <= DEPTH:
                outs.append(contract.pooled(10**8, b"", host, 0, False) if pooled
                            else contract.run(10**8, b"", host, on_frame=lambda frame: None))
            return 0, gas, None  # BALANCE's value: its argument left in place (0)

        def sload(self, key: int, gas: int) -> int:
            return INVALID

    host = Nesting()

    outs.append(contract.pooled(10**8, b"", host, 0, False) if pooled
                else contract.run(10**8, b"", host, on_frame=lambda frame: None))
    return outs, addresses


@pytest.mark.parametrize("pooled", [True, False], ids=["extension", "python"])
def test_deep_chain_leaves_only_member_frames_pooled(tmp_path: Path, pooled: bool) -> None:
    library = build_library(find_compiler(), [("c", analyse(NEST_THEN_GROW))], tmp_path / "c.so")
    contract = Contract(library, "c", NEST_THEN_GROW)
    outs, addresses = _nest(contract, pooled)
    assert len(outs) == DEPTH + 1 and len(set(outs)) == 1 and outs[0].status == 1
    # the pool holds the frames of the outermost POOL_SIZE levels (made first), not the deepest ones
    assert sorted(entry[3] for entry in library.frames) == sorted(addresses[:POOL_SIZE])
    assert all(entry[0].mem_cap <= KEEP_MEM for entry in library.frames)
    again, reused = _nest(contract, pooled)
    assert again == outs and set(reused[:POOL_SIZE]) == set(addresses[:POOL_SIZE])


def _mapped(directory: Path) -> int:
    """How many distinct shared objects under `directory` this process has mapped."""
    with open("/proc/self/maps") as maps:
        return len({line.split()[-1] for line in maps if str(directory) in line})


def _code(k: int) -> bytes:
    """A distinct small contract returning k."""
    return bytes([0x60, k, 0x5F, 0x52, 0x60, 0x20, 0x5F, 0xF3])


def test_registry_unloads_least_recently_used_contracts(tmp_path: Path) -> None:
    registry = NativeRegistry("always", tmp_path, max_active=3)
    codes = [_code(k) for k in range(6)]
    first = {}
    for code in codes:
        contract = registry.lookup(code)
        assert contract is not None
        first[code] = contract.run(10**5, b"")
        del contract
        registry.lookup(codes[0])  # kept recently used
        registry.begin_transaction()
    gc.collect()
    assert _mapped(tmp_path) == 3
    assert registry.lookup(codes[0]) is not None  # never dropped
    assert registry.lookup(codes[1]) is not None  # dropped, loaded again from the cache directory
    registry.begin_transaction()
    gc.collect()
    assert _mapped(tmp_path) == 3
    for code in codes:
        contract = registry.lookup(code)
        assert contract is not None and contract.run(10**5, b"") == first[code]
        assert int.from_bytes(first[code].output, "big") == codes.index(code)


def test_dropped_library_stays_loaded_while_its_frames_live(tmp_path: Path) -> None:
    """A frame outliving its Contract and Library (e.g. held by a computation's memory) keeps the shared
    object loaded, so its destructor still has the runtime to free its buffers with."""
    built = build_library(find_compiler(), [("c", analyse(_code(7)))], tmp_path / "c.so")
    library = Library(built.path, ["c"], None)
    del built
    frame = library.new_frame()[0]
    del library
    gc.collect()
    assert _mapped(tmp_path) == 1
    del frame
    gc.collect()
    assert _mapped(tmp_path) == 0


def test_native_state_class_does_not_keep_its_registry(tmp_path: Path) -> None:
    registry = NativeRegistry("always", tmp_path)
    cls = with_native(CheckedCancunState, registry)
    assert cls is not CheckedCancunState and with_native(CheckedCancunState, registry) is cls
    ref = weakref.ref(registry)
    del registry, cls
    gc.collect()
    assert ref() is None
