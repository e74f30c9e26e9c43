"""SALT-aware storage gas and code size limits (§5.1–5.2).

Bucket capacities are passed as zero-argument callables: a rule calls it only when a
bucket-dependent charge is actually due, because the validator's witness holds only those
capacities (§5.1). Bucket ids come from `salt/`; multipliers may be cached per block.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from gas.schedule import MIN_BUCKET_SIZE, SCHEDULE, Gas
from gas.spec import Spec


def bucket_multiplier(capacity: int) -> int:
    """`m = capacity // 256` (integer division; a minimum-size bucket has m = 1) (§5.1)."""
    return capacity // MIN_BUCKET_SIZE


def scaled_storage_gas(spec: Spec, base: int, bucket_capacity: Callable[[], int]) -> Gas:
    """Bucket-scaled storage gas: `base × m` in MiniRex, `base × (m − 1)` from Rex on (§5.1;
    mega-evm `external/gas.rs`). Looks the capacity up even when the result will be 0 (m = 1 in Rex)."""
    s = SCHEDULE[spec]
    return Gas(storage=base * (bucket_multiplier(bucket_capacity()) - s.bucket_multiplier_offset))


def sstore_storage_gas(
    spec: Spec, original: int, present: int, new: int, bucket_capacity: Callable[[], int]
) -> Gas:
    """SSTORE storage gas, charged before the standard SSTORE cost when `original == present == 0 ≠ new`:
    20,000·(m−1) in Rex, 2,000,000·m in MiniRex; never refunded (§5.2). `bucket_capacity` is that of
    the slot's bucket (`address ‖ slot`)."""
    if spec < Spec.MINI_REX or not (original == 0 and present == 0 and new != 0):
        return Gas()
    return scaled_storage_gas(spec, SCHEDULE[spec].sstore_set_storage, bucket_capacity)


def call_new_account_storage_gas(
    spec: Spec, opcode: int, value: int, target_empty: bool, bucket_capacity: Callable[[], int]
) -> Gas:
    """Storage gas of a value-transferring CALL (MiniRex+) or CALLCODE (Rex+) whose target is EIP-161
    empty, looked up through its 7702 delegation; charged before the standard opcode (§5.2).
    `bucket_capacity` is the bucket of the stack `to` address — for CALLCODE that is the code address,
    an upstream bug kept until Rex5."""
    s = SCHEDULE[spec]
    if opcode not in s.new_account_storage_opcodes or value == 0 or not target_empty:
        return Gas()
    return scaled_storage_gas(spec, s.new_account_storage, bucket_capacity)


def create_storage_gas(spec: Spec, bucket_capacity: Callable[[], int]) -> Gas:
    """Contract-creation storage gas for CREATE, CREATE2 and create txs: 32,000·(m−1) in Rex,
    2,000,000·m in MiniRex, for the created address's bucket; charged before the standard opcode and
    kept even if the creation later fails (§5.2)."""
    if spec < Spec.MINI_REX:
        return Gas()
    return scaled_storage_gas(spec, SCHEDULE[spec].contract_creation_storage, bucket_capacity)


def code_deposit_storage_gas(spec: Spec, code_length: int) -> Gas:
    """Code deposit storage gas, 10,000 per runtime-code byte on a successful create, charged before
    the standard 200/byte; failing to pay it turns the create into OutOfGas (§3.2, §5.2)."""
    return Gas(storage=SCHEDULE[spec].code_deposit_storage_per_byte * code_length)


@functools.lru_cache(maxsize=4096)  # a block's events repeat a few shapes
def log_storage_gas(spec: Spec, topics: int, data_length: int) -> Gas:
    """LOG storage gas `3,750·topics + 80·bytes`, charged before the standard LOG and kept even if
    the frame reverts (§5.2)."""
    s = SCHEDULE[spec]
    return Gas(storage=s.log_topic_storage * topics + s.log_data_storage_per_byte * data_length)


def code_size_allowed(spec: Spec, code_length: int) -> bool:
    """Deployed code size limit: 24,576 bytes (EIP-170) before MiniRex, 524,288 from MiniRex on (§5.2)."""
    return code_length <= SCHEDULE[spec].max_code_size


def initcode_size_allowed(spec: Spec, initcode_length: int) -> bool:
    """Initcode size limit (EIP-3860): 49,152 bytes before MiniRex, 548,864 (512 KiB + 24 KiB) from
    MiniRex on; §5.2's 536,576 is a misprint (mega-evm `constants.rs` `MAX_INITCODE_SIZE`)."""
    return initcode_length <= SCHEDULE[spec].max_initcode_size
