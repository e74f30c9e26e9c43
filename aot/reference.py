"""A minimal Cancun frame runner on py-evm: one call to a contract with transaction semantics
(target and sender warm, empty storage, value 0), interpreted or with a compiled contract swapped in.
It is the reference the native code is checked against (tests, benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.exceptions import Revert
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message

from aot import loader
from aot.host import NativeComputation
from aot.loader import Contract

TARGET = bytes.fromhex("be7c43a580000000000000000000000000000001")
SENDER = bytes.fromhex("00000000000000000000000000000000000c0de5")
COINBASE = bytes.fromhex("00000000000000000000000000000000000000c0")


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What a frame's caller and the state can observe."""

    status: str  # "success" | "revert" | "error"
    output: bytes
    gas_left: int
    refund: int
    logs: tuple[tuple[bytes, tuple[int, ...], bytes], ...]
    state_root: bytes


def _state() -> CancunState:
    ctx = ExecutionContext(coinbase=COINBASE, timestamp=1_700_000_000, block_number=1, difficulty=0,
                           mix_hash=b"\x11" * 32, gas_limit=30_000_000, prev_hashes=(), chain_id=1,
                           base_fee_per_gas=7, excess_blob_gas=0)
    return CancunState(AtomicDB(), ctx, BLANK_ROOT_HASH)


def run_frame(code: bytes, calldata: bytes, gas: int, contract: Contract | None = None,
              storage: dict[int, int] | None = None, warm_slots: tuple[int, ...] = ()) -> FrameResult:
    """Call `code` at TARGET with `calldata` and `gas`; natively when `contract` is given. `storage`
    is TARGET's storage before the transaction (the original values), `warm_slots` its slots already
    warm (as if accessed earlier in the transaction)."""
    state = _state()
    state.set_code(TARGET, code)
    for slot, value in (storage or {}).items():
        state.set_storage(TARGET, slot, value)
    if storage:
        state.lock_changes()
    for slot in warm_slots:
        state.mark_storage_warm(TARGET, slot)
    state.set_balance(SENDER, 10**20)
    state.mark_address_warm(TARGET)
    state.mark_address_warm(SENDER)
    msg = Message(gas=gas, to=TARGET, sender=SENDER, value=0, data=calldata, code=code)
    tx = CancunTransactionContext(gas_price=7, origin=SENDER, blob_versioned_hashes=())
    cls = CancunComputation
    if contract is not None:
        cls = type("NativeCancunComputation", (NativeComputation, CancunComputation),
                   {"native": staticmethod(lambda c: contract if c == contract.code else None)})
    comp = cls.apply_message(state, msg, tx)
    status = "success" if comp.is_success else "revert" if isinstance(comp.error, Revert) else "error"
    state.lock_changes()
    return FrameResult(status, bytes(comp.output), comp.get_gas_remaining(), comp.get_gas_refund(),
                       tuple(comp.get_log_entries()), state.make_state_root())


ENV_VALUES = {0x30: int.from_bytes(TARGET, "big"), 0x32: int.from_bytes(SENDER, "big"),
              0x33: int.from_bytes(SENDER, "big"), 0x34: 0, 0x3A: 7, 0x41: int.from_bytes(COINBASE, "big"),
              0x42: 1_700_000_000, 0x43: 1, 0x44: int.from_bytes(b"\x11" * 32, "big"), 0x45: 30_000_000,
              0x46: 1, 0x47: 0, 0x48: 7, 0x4A: 1}


_COLD_EMPTY_SLOT = (0, 0, 0)  # current 0, original 0, not warm


class StandaloneHost:
    """A host without py-evm for one top-level frame at TARGET in the pre-state run_frame uses (empty
    storage, nothing warm but TARGET and SENDER, value 0): environment values and storage only; any
    other host opcode fails the frame (its storage loads are Python calls). For
    benchmarks of native execution alone (the Python call, frame set-up and outcome included, py-evm's
    per-frame machinery excluded); gas and output are those of run_frame."""

    def sload(self, key: int, gas: int) -> tuple[int, int, int]:
        return _COLD_EMPTY_SLOT

    def opcode(self, frame: Any, op: int, pc: int, gas: int, args: list[int]) -> tuple[int, int, int | None]:
        if op & loader.HOST_ENV and (op & 0xFF) in ENV_VALUES:
            return 0, gas, ENV_VALUES[op & 0xFF]
        return loader.INVALID, gas, None


STANDALONE_HOST = StandaloneHost()


def run_standalone(contract: Contract, calldata: bytes, gas: int) -> tuple[loader.Outcome, int]:
    """Run `contract` on StandaloneHost; the outcome and the refund delta its SSTOREs earned."""
    out = contract.pooled(gas, calldata, STANDALONE_HOST, 0, False)
    return out, out.refund
