"""A minimal Cancun frame runner on py-evm: one call to a contract with transaction semantics
(target and sender warm, empty storage, value 0), interpreted or with a compiled contract swapped in.
It is the reference the native code is checked against (tests, benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

from eth.constants import BLANK_ROOT_HASH
from eth.db.atomic import AtomicDB
from eth.exceptions import Revert
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.cancun.computation import CancunComputation
from eth.vm.forks.cancun.state import CancunState
from eth.vm.forks.cancun.transaction_context import CancunTransactionContext
from eth.vm.message import Message

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


def run_frame(code: bytes, calldata: bytes, gas: int, contract: Contract | None = None) -> FrameResult:
    """Call `code` at TARGET with `calldata` and `gas`; natively when `contract` is given."""
    state = _state()
    state.set_code(TARGET, code)
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
