"""EIP-1559 base fee with the OP-stack parameters (spec/stateless-validator.md §4.5; Holocene extraData)."""

from __future__ import annotations


def holocene_params(extra_data: bytes) -> tuple[int, int]:
    """(denominator, elasticity) from Holocene `extraData` = version 0 ‖ u32 denominator ‖ u32 elasticity."""
    if len(extra_data) != 9 or extra_data[0] != 0:
        raise ValueError(f"not Holocene extraData: {extra_data.hex()}")
    return int.from_bytes(extra_data[1:5], "big"), int.from_bytes(extra_data[5:9], "big")


def next_base_fee(parent_base_fee: int, parent_gas_used: int, parent_gas_limit: int, denominator: int,
                  elasticity: int, minimum: int = 0) -> int:
    """EIP-1559: move toward the gas target (limit / elasticity) by at most 1/denominator per block, with the
    increase at least 1 wei; never below `minimum` (the sequencer's floor)."""
    target = parent_gas_limit // elasticity
    if parent_gas_used == target:
        fee = parent_base_fee
    elif parent_gas_used > target:
        fee = parent_base_fee + max(parent_base_fee * (parent_gas_used - target) // target // denominator, 1)
    else:
        fee = parent_base_fee - parent_base_fee * (target - parent_gas_used) // target // denominator
    return max(fee, minimum)
