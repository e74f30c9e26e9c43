"""Data size, KV updates, state growth, tx and block limits (mega-evm.md §4)."""

from __future__ import annotations

import pytest

from gas.limits import (
    ACCOUNT_UPDATE,
    CREATED_ACCOUNT,
    BlockLimitReached,
    BlockUsage,
    LimitKind,
    Usage,
    add_tx_to_block,
    check_block_room,
    code_deposit_usage,
    Meter,
    exceeded_limit,
    halt_reason,
    log_usage,
    sstore_usage,
    tx_limits,
    tx_start_usage,
)
from gas.schedule import SCHEDULE, Limits
from gas.spec import Spec


def test_tx_start_usage() -> None:
    assert tx_start_usage(0, [], 0, 0) == Usage(data_size=150, kv_updates=1)
    # 4-byte call, one access-list item with 2 keys, one recoverable authorization
    assert tx_start_usage(4, [2], 1, 1) == Usage(data_size=110 + 4 + 84 + 101 + 80, kv_updates=2)
    assert tx_start_usage(0, [0], 2, 1) == Usage(data_size=110 + 20 + 202 + 80, kv_updates=2)


def test_sstore_usage() -> None:
    write = Usage(data_size=40, kv_updates=1)
    assert sstore_usage(0, 0, 1) == write + Usage(state_growth=1)
    assert sstore_usage(5, 5, 6) == write
    assert sstore_usage(5, 5, 5) == Usage()
    assert sstore_usage(5, 6, 7) == Usage()  # rewrite of a dirty slot
    assert sstore_usage(5, 6, 5) == Usage() - write  # restored
    assert sstore_usage(0, 1, 0) == Usage(data_size=-40, kv_updates=-1, state_growth=-1)
    assert sstore_usage(0, 1, 2) == Usage()


def test_log_usage() -> None:
    assert log_usage(3, 32) == Usage(data_size=128)


def test_code_deposit_usage() -> None:
    assert code_deposit_usage(62) == Usage(data_size=62)


def test_value_call_frames() -> None:
    meter = Meter(tx_start_usage(0, [], 0, 0))
    meter.enter_call(transfers_value=True, target_empty=True)  # top frame: callee only
    assert meter.usage() == Usage(data_size=190, kv_updates=2, state_growth=1)
    meter.enter_call(transfers_value=True, target_empty=False)  # parent already updated
    assert meter.usage() == Usage(data_size=230, kv_updates=3, state_growth=1)
    meter.exit_frame(success=False)  # child's account update dropped
    assert meter.usage() == Usage(data_size=190, kv_updates=2, state_growth=1)
    meter.exit_frame(success=True)
    assert meter.usage() == Usage(data_size=190, kv_updates=2, state_growth=1) and meter.frames == []


def test_parent_update_counts_each_time() -> None:
    """A non-value frame's target is charged on every value call it makes (upstream never marks it)."""
    meter = Meter()
    meter.enter_call(transfers_value=False, target_empty=False)
    for _ in range(2):
        meter.enter_call(transfers_value=True, target_empty=False)
        meter.exit_frame(success=True)
    assert meter.usage() == Usage(data_size=160, kv_updates=4)


def test_create_frames() -> None:
    meter = Meter()
    meter.enter_call(transfers_value=False, target_empty=False)
    meter.enter_create()
    meter.record(CREATED_ACCOUNT)
    meter.record(code_deposit_usage(62))
    assert meter.usage() == Usage(data_size=40 + 40 + 62, kv_updates=2, state_growth=1)
    meter.exit_frame(success=False)
    assert meter.usage() == Usage()


def test_failed_frame_discards_sstore_and_logs() -> None:
    meter = Meter()
    meter.enter_call(transfers_value=False, target_empty=False)
    meter.enter_call(transfers_value=False, target_empty=False)
    meter.record(sstore_usage(0, 0, 1))
    meter.record(log_usage(1, 10))
    meter.exit_frame(success=False)
    assert meter.usage() == Usage()
    meter.record(sstore_usage(0, 0, 1))
    meter.exit_frame(success=True)
    assert meter.total == Usage(40, 1, 1)


def test_nested_success_moves_usage_to_the_parent_frame() -> None:
    """A child's usage merged into its parent on success is dropped with the parent when the parent fails."""
    meter = Meter(Usage(150, 1))
    meter.enter_call(transfers_value=False, target_empty=False)
    meter.enter_call(transfers_value=False, target_empty=False)
    meter.record(sstore_usage(0, 0, 1))
    meter.exit_frame(success=True)
    assert meter.frames == [[40, 1, 1, False]]
    meter.exit_frame(success=False)
    assert meter.total == Usage(150, 1) and meter.frames == []


def test_usage_clamps_at_zero() -> None:
    meter = Meter()
    meter.record(sstore_usage(0, 1, 0))
    assert meter.total == Usage(-40, -1, -1) and meter.usage() == Usage()


def test_tx_limits() -> None:
    assert tx_limits(Spec.REX, 20_000_000) == Limits(20_000_000, 13_107_200, 500_000, 1_000)
    assert SCHEDULE[Spec.MINI_REX].tx_limits == Limits(1_000_000_000, 3_276_800, 125_000)
    assert SCHEDULE[Spec.REX].tx_limits.compute_gas == 200_000_000


def test_exceeded_limit() -> None:
    limits = tx_limits(Spec.REX, 200_000_000)
    assert exceeded_limit(Usage(13_107_200, 500_000, 1_000), 200_000_000, limits) is None  # strict ">"
    assert exceeded_limit(Usage(data_size=13_107_201), 0, limits) is LimitKind.DATA_SIZE
    assert exceeded_limit(Usage(kv_updates=500_001), 0, limits) is LimitKind.KV_UPDATES
    assert exceeded_limit(Usage(), 200_000_001, limits) is LimitKind.COMPUTE_GAS
    assert exceeded_limit(Usage(state_growth=1_001), 0, limits) is LimitKind.STATE_GROWTH
    # check order: data before KV before compute before state growth
    assert exceeded_limit(Usage(13_107_201, 500_001, 1_001), 10**9, limits) is LimitKind.DATA_SIZE
    assert exceeded_limit(Usage(0, 500_001, 1_001), 10**9, limits) is LimitKind.KV_UPDATES
    # MiniRex: no state-growth limit, lower data/KV limits
    mini = tx_limits(Spec.MINI_REX, 1_000_000_000)
    assert exceeded_limit(Usage(state_growth=10**6), 0, mini) is None
    assert exceeded_limit(Usage(data_size=3_276_801), 0, mini) is LimitKind.DATA_SIZE
    assert exceeded_limit(Usage(kv_updates=125_001), 0, mini) is LimitKind.KV_UPDATES


def test_halt_reason() -> None:
    assert halt_reason(LimitKind.COMPUTE_GAS, volatile_data_accessed=True) == "VolatileDataAccessOutOfGas"
    assert halt_reason(LimitKind.DATA_SIZE, volatile_data_accessed=True) == "VolatileDataAccessOutOfGas"
    assert halt_reason(LimitKind.STATE_GROWTH, volatile_data_accessed=False) == "StateGrowthLimitExceeded"


def test_check_block_room() -> None:
    check_block_room(Spec.REX, BlockUsage(gas=1_000_000_000), 2_000_000_000, 1_000_000_000)
    with pytest.raises(BlockLimitReached, match="block gas left"):
        check_block_room(Spec.REX, BlockUsage(gas=1_000_000_001), 2_000_000_000, 1_000_000_000)
    below = BlockUsage(data_size=13_107_199, kv_updates=499_999, state_growth=999)
    check_block_room(Spec.REX, below, 10**9, 1)
    at_limit = (
        BlockUsage(data_size=13_107_200),
        BlockUsage(kv_updates=500_000),
        BlockUsage(state_growth=1_000),
    )
    for used in at_limit:
        with pytest.raises(BlockLimitReached, match="already at limit"):
            check_block_room(Spec.REX, used, 10**9, 1)
    check_block_room(Spec.MINI_REX, BlockUsage(state_growth=10**6), 10**9, 1)  # no state-growth limit
    check_block_room(Spec.EQUIVALENCE, BlockUsage(data_size=10**9), 10**9, 1)


def test_add_tx_to_block() -> None:
    block = add_tx_to_block(BlockUsage(gas=60_000), 77_600, Usage(13_000_000, 5, 2), 37_600)
    assert block == BlockUsage(137_600, 13_000_000, 5, 37_600, 2)
    overshoot = add_tx_to_block(block, 60_000, Usage(data_size=200_000), 21_000)  # may pass the limit
    assert overshoot.data_size == 13_200_000
    with pytest.raises(BlockLimitReached):
        check_block_room(Spec.REX, overshoot, 2_000_000_000, 21_000)


def test_account_update_constant() -> None:
    assert ACCOUNT_UPDATE == Usage(data_size=40, kv_updates=1)
