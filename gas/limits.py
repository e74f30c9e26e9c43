"""Multidimensional resource accounting (data size, KV updates, state growth, compute gas) and what
happens when a tx or block limit is hit (§4).

Data size, KV updates and state growth are counted per call frame: what a frame adds is dropped
when the frame fails (`Meter`). The caller drives a `Meter` from the executor's frame hooks:

    meter = Meter(tx_start_usage(...))                      # on_new_tx
    meter.enter_call(value != 0, callee_empty)              # before every call frame (top one too)
    meter.enter_create(); meter.record(CREATED_ACCOUNT)     # create frame, once created
    meter.record(sstore_usage(...) / log_usage(...) / code_deposit_usage(...))
    meter.exit_frame(success)                               # when any frame returns
    exceeded_limit(meter.usage(), compute_gas_used, limits) # after each of the above
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from gas.schedule import SCHEDULE, Limits
from gas.spec import Spec

BASE_TX_SIZE = 110
AUTHORIZATION_SIZE = 101
LOG_TOPIC_SIZE = 32
ACCOUNT_WRITE_SIZE = 40  # 8-byte SALT key + 32-byte value delta
STORAGE_SLOT_WRITE_SIZE = 40
ADDRESS_SIZE = 20
STORAGE_KEY_SIZE = 32


@dataclass(frozen=True, slots=True)
class Usage:
    """A (possibly negative, net) amount of the three counted resources."""

    data_size: int = 0
    kv_updates: int = 0
    state_growth: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.data_size + other.data_size,
            self.kv_updates + other.kv_updates,
            self.state_growth + other.state_growth,
        )

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.data_size - other.data_size,
            self.kv_updates - other.kv_updates,
            self.state_growth - other.state_growth,
        )


NO_USAGE = Usage()
ACCOUNT_UPDATE = Usage(data_size=ACCOUNT_WRITE_SIZE, kv_updates=1)
_SLOT_WRITE = Usage(data_size=STORAGE_SLOT_WRITE_SIZE, kv_updates=1)
_SLOT_WRITE_UNDONE = NO_USAGE - _SLOT_WRITE
_GROWTH = Usage(state_growth=1)
CREATED_ACCOUNT = ACCOUNT_UPDATE
"""Recorded for the created account once a create frame exists (§4.3–4.4)."""


def tx_start_usage(
    input_length: int, access_list_keys: Sequence[int], authorizations: int, recovered_authorities: int
) -> Usage:
    """Non-discardable usage at tx start (§4.3–4.4): data `110 + len(input) + Σ(20 + 32·keys) per
    access-list item + 101·authorizations`, plus one account update (40 B, 1 KV) for the caller and
    for each 7702 authorization whose authority recovers. `access_list_keys` holds each item's key count."""
    data = (
        BASE_TX_SIZE
        + input_length
        + sum(ADDRESS_SIZE + STORAGE_KEY_SIZE * keys for keys in access_list_keys)
        + AUTHORIZATION_SIZE * authorizations
    )
    updates = 1 + recovered_authorities
    return Usage(data_size=data + ACCOUNT_WRITE_SIZE * updates, kv_updates=updates)


def sstore_usage(original: int, present: int, new: int) -> Usage:
    """SSTORE usage, net per slot (§4.3–4.5): first write away from the original value `+40 B, +1 KV`,
    writing the original back `−40 B, −1 KV`; state growth `+1` for 0→0→non-0, `−1` for
    0→non-0→0."""
    if original == present and new != original:
        change = _SLOT_WRITE
    elif original != present and new == original:
        change = _SLOT_WRITE_UNDONE
    else:
        change = NO_USAGE
    if original == 0 and present == 0 and new != 0:
        return change + _GROWTH
    if original == 0 and present != 0 and new == 0:
        return change - _GROWTH
    return change


def native_usage(slot_writes: int, log_bytes: int) -> Usage:
    """What native code recorded: `slot_writes` net first writes of slots away from their original values
    (`sstore_usage`'s `±40 B, ±1 KV` cases, §4.3–4.4; negative: written back), without state growth, and
    `log_bytes` of LOG data size (`log_usage`)."""
    return Usage(data_size=STORAGE_SLOT_WRITE_SIZE * slot_writes + log_bytes, kv_updates=slot_writes)


def native_rooms(meter: Meter, limits: Limits) -> tuple[int, int]:
    """How many more first writes of a slot (`native_usage(1, 0)` each) and how many more LOG data-size bytes
    (`log_usage`) the tx can record before its data size or KV updates would exceed `limits` (§4.6; a limit
    is exceeded only strictly, and clamping at 0, §4.5, does not change that comparison): within both,
    recording them needs no limit check. The two share the data-size room half and half."""
    data = limits.data_size - meter.data_size
    log_bytes = max(0, data // 2)
    writes = min(limits.kv_updates - meter.kv_updates, (data - log_bytes) // STORAGE_SLOT_WRITE_SIZE)
    return max(0, writes), log_bytes


@functools.lru_cache(maxsize=4096)  # a block's events repeat a few shapes
def log_usage(topics: int, data_length: int) -> Usage:
    """LOG data size `32·topics + len(data)` (§4.3)."""
    return Usage(data_size=LOG_TOPIC_SIZE * topics + data_length)


def code_deposit_usage(code_length: int) -> Usage:
    """A successful create's runtime code counts `len(code)` bytes (§4.3)."""
    return Usage(data_size=code_length)


class Meter:
    """Running tx usage (may dip below 0 before clamping, §4.5) and the open-frame stack, updated in place
    (the executor records on every SSTORE, LOG and frame). Each open frame holds what it added so far
    (`[data_size, kv_updates, state_growth]`, dropped if the frame fails) and whether its target's account
    already counts as updated. A new meter holds the non-discardable tx-start usage (§3 step 2)."""

    __slots__ = ("data_size", "kv_updates", "state_growth", "frames")

    def __init__(self, start: Usage = NO_USAGE) -> None:
        self.data_size, self.kv_updates, self.state_growth = start.data_size, start.kv_updates, start.state_growth
        self.frames: list[list[int]] = []  # [data_size, kv_updates, state_growth, target_updated]

    @property
    def total(self) -> Usage:
        """The unclamped running total."""
        return Usage(self.data_size, self.kv_updates, self.state_growth)

    def usage(self) -> Usage:
        """Reported usage: each dimension of the running total clamped at 0 (§4.5)."""
        return Usage(max(0, self.data_size), max(0, self.kv_updates), max(0, self.state_growth))

    def record(self, change: Usage) -> None:
        """Add usage to the tx total and to the innermost frame's discardable part (§4.3)."""
        d, k, g = change.data_size, change.kv_updates, change.state_growth
        self.data_size += d
        self.kv_updates += k
        self.state_growth += g
        if self.frames:
            top = self.frames[-1]
            top[0] += d
            top[1] += k
            top[2] += g

    def _parent_update(self) -> Usage:
        # The parent frame's target pays an account update unless already marked updated. Upstream never
        # sets the mark afterwards, so every value call / create from the same frame counts it again.
        frames = self.frames
        return ACCOUNT_UPDATE if len(frames) >= 2 and not frames[-2][3] else NO_USAGE

    def enter_call(self, transfers_value: bool, target_empty: bool) -> None:
        """Open a call frame (§4.3–4.5; mega-evm `limit/data_size.rs` `record_call`): with a value
        transfer, count the caller frame's target (if not yet updated) and the callee as account updates,
        and `+1` state growth if the callee (through its 7702 delegation) is EIP-161 empty."""
        self.frames.append([0, 0, 0, transfers_value])
        if transfers_value:
            change = self._parent_update() + ACCOUNT_UPDATE
            self.record(change + _GROWTH if target_empty else change)

    def enter_create(self) -> None:
        """Open a create frame: the creator's account update (if not yet updated) and `+1` state growth;
        the created account is recorded with `CREATED_ACCOUNT` once the frame exists (§4.3–4.5)."""
        self.frames.append([0, 0, 0, True])
        self.record(self._parent_update() + _GROWTH)

    def exit_frame(self, success: bool) -> None:
        """Close the innermost frame: on success its usage moves into the parent; on failure (revert or
        halt) it is dropped from the total (§3.2 `frame_return_result`)."""
        top = self.frames.pop()
        if not success:
            self.data_size -= top[0]
            self.kv_updates -= top[1]
            self.state_growth -= top[2]
        elif self.frames:
            parent = self.frames[-1]
            parent[0] += top[0]
            parent[1] += top[1]
            parent[2] += top[2]


class LimitKind(Enum):
    """Which tx resource limit was exceeded, in the order upstream checks them."""

    DATA_SIZE = "DataLimitExceeded"
    KV_UPDATES = "KVUpdateLimitExceeded"
    COMPUTE_GAS = "ComputeGasLimitExceeded"
    STATE_GROWTH = "StateGrowthLimitExceeded"


VOLATILE_DATA_ACCESS_OUT_OF_GAS = "VolatileDataAccessOutOfGas"


def tx_limits(spec: Spec, compute_gas_limit: int) -> Limits:
    """The tx limits in force: the spec's, with the compute limit as lowered by detention (§4.6, §6)."""
    return replace(SCHEDULE[spec].tx_limits, compute_gas=compute_gas_limit)


def exceeded_limit(used: Usage, compute_gas_used: int, limits: Limits) -> LimitKind | None:
    """The first tx limit strictly exceeded — data, KV, compute, state growth (mega-evm
    `limit/mod.rs` `check_limit`) — or None. Once a limit is exceeded the tx halts (§4.7): the current
    opcode or frame ends OutOfGas, every open frame unwinds OutOfGas without running more opcodes,
    each returning frame's remaining gas is rescued (see `tx.tx_gas_used`), state changes revert,
    status 0 and no logs."""
    if used.data_size > limits.data_size:
        return LimitKind.DATA_SIZE
    if used.kv_updates > limits.kv_updates:
        return LimitKind.KV_UPDATES
    if compute_gas_used > limits.compute_gas:
        return LimitKind.COMPUTE_GAS
    if used.state_growth > limits.state_growth:
        return LimitKind.STATE_GROWTH
    return None


def halt_reason(kind: LimitKind, volatile_data_accessed: bool) -> str:
    """Halt reason of a limit halt: `VolatileDataAccessOutOfGas` whenever the tx accessed volatile data
    (whatever limit fired), else the limit's own name (§3 step 9). Receipts show only status 0."""
    return VOLATILE_DATA_ACCESS_OUT_OF_GAS if volatile_data_accessed else kind.value


@dataclass(frozen=True, slots=True)
class BlockUsage:
    """Block totals of everything the block limiter tracks (§4.7)."""

    gas: int = 0
    data_size: int = 0
    kv_updates: int = 0
    compute_gas: int = 0
    state_growth: int = 0


class BlockLimitReached(ValueError):
    """A tx may not start: the block has no room left (`BlockExecutionError`; never in a valid block)."""


def check_block_room(spec: Spec, block: BlockUsage, block_gas_limit: int, tx_gas_limit: int) -> None:
    """Pre-tx block check (§4.7; mega-evm `block/limit.rs` `pre_execution_check`): the tx gas limit
    must fit the remaining block gas, and block data / KV / compute / state-growth usage so far must
    be below the block limits (`used ≥ limit` rejects; the previous tx may have overshot)."""
    if block.gas + tx_gas_limit > block_gas_limit:
        raise BlockLimitReached(f"tx gas limit {tx_gas_limit} > block gas left {block_gas_limit - block.gas}")
    used_up = _used_up(spec, block)
    if used_up is not None:
        raise BlockLimitReached("block {} {} already at limit {}".format(*used_up))


def block_full(spec: Spec, block: BlockUsage) -> bool:
    """Whether a limit other than gas is used up, so `check_block_room` refuses any further tx (§4.7)."""
    return _used_up(spec, block) is not None


def _used_up(spec: Spec, block: BlockUsage) -> tuple[str, int, int] | None:
    """The first block limit other than gas that the usage so far has reached: (name, used, limit)."""
    limits = SCHEDULE[spec].block_limits
    for name, used, limit in (
        ("data size", block.data_size, limits.data_size),
        ("KV updates", block.kv_updates, limits.kv_updates),
        ("compute gas", block.compute_gas, limits.compute_gas),
        ("state growth", block.state_growth, limits.state_growth),
    ):
        if used >= limit:
            return name, used, limit
    return None


def add_tx_to_block(block: BlockUsage, gas_used: int, used: Usage, compute_gas_used: int) -> BlockUsage:
    """Post-tx block totals: everything the tx used is added, even past a limit (§4.7)."""
    return BlockUsage(
        block.gas + gas_used,
        block.data_size + used.data_size,
        block.kv_updates + used.kv_updates,
        block.compute_gas + compute_gas_used,
        block.state_growth + used.state_growth,
    )
