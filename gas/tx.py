"""Tx-level gas: intrinsic gas, the EIP-7623 floor, tx-level storage gas, receipt `gasUsed` (§3, §4.7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from gas.schedule import SCHEDULE, Gas
from gas.spec import Spec
from gas.storage import create_storage_gas, initcode_size_allowed, scaled_storage_gas


class InvalidTxGas(ValueError):
    """The tx fails validation on gas (a replayer treats its block as invalid) (§3, step 3)."""


class InitcodeTooLarge(InvalidTxGas):
    """A create tx's initcode is over the fork's size limit (EIP-3860, §3.1)."""


class FloorGasTooLow(InvalidTxGas):
    """The gas limit is below the EIP-7623 calldata floor (§3.1)."""


@dataclass(frozen=True, slots=True)
class TxGasInputs:
    """What intrinsic gas depends on: calldata (or initcode), kind, access list and 7702 list sizes."""

    data: bytes
    is_create: bool = False
    access_list_addresses: int = 0
    access_list_storage_keys: int = 0
    authorizations: int = 0


def calldata_tokens(data: bytes) -> int:
    """EIP-7623 tokens: one per zero byte, four per non-zero byte (§3.1)."""
    zeros = data.count(0)
    return zeros + 4 * (len(data) - zeros)


def intrinsic_gas(spec: Spec, tx: TxGasInputs) -> Gas:
    """Intrinsic gas before tx-level storage gas: compute = standard Prague intrinsic; storage =
    40/token calldata surcharge (MiniRex+) plus 39,000 (Rex+); deposits and system txs included (§3.1)."""
    s = SCHEDULE[spec]
    tokens = calldata_tokens(tx.data)
    compute = (
        s.tx_base
        + s.calldata_per_token * tokens
        + s.access_list_address * tx.access_list_addresses
        + s.access_list_storage_key * tx.access_list_storage_keys
        + s.per_authorization * tx.authorizations
    )
    if tx.is_create:
        compute += s.tx_create + s.initcode_per_word * ((len(tx.data) + 31) // 32)
    return Gas(compute, s.calldata_storage_per_token * tokens + s.tx_intrinsic_storage)


def floor_gas(spec: Spec, tx: TxGasInputs) -> int:
    """EIP-7623 floor plus the MegaETH surcharge: `21,000 + 110·tokens` (MiniRex+), no 39,000 (§3.1)."""
    s = SCHEDULE[spec]
    return s.tx_base + (s.floor_per_token + s.floor_storage_per_token) * calldata_tokens(tx.data)


def validate_tx_gas(spec: Spec, tx: TxGasInputs, gas_limit: int) -> None:
    """Reject the tx (raise `InvalidTxGas`) as revm + MegaETH `validate` do, in their order (§3.1):
    initcode size, standard intrinsic, standard floor (surcharge not checked before Rex5), then the
    MegaETH intrinsic (standard + calldata surcharge + 39,000) against the gas limit."""
    s = SCHEDULE[spec]
    if tx.is_create and not initcode_size_allowed(spec, len(tx.data)):
        raise InitcodeTooLarge(f"initcode size {len(tx.data)} > max {s.max_initcode_size}")
    initial = intrinsic_gas(spec, tx)
    if gas_limit < initial.compute:
        raise InvalidTxGas(f"gas limit {gas_limit} < standard intrinsic gas {initial.compute}")
    standard_floor = s.tx_base + s.floor_per_token * calldata_tokens(tx.data)
    if gas_limit < standard_floor:
        raise FloorGasTooLow(f"gas limit {gas_limit} < EIP-7623 floor {standard_floor}")
    if initial.total > gas_limit:
        raise InvalidTxGas(f"gas limit {gas_limit} < intrinsic gas {initial.total}")


def tx_storage_gas(
    spec: Spec, is_create: bool, value: int, callee_empty: bool, bucket_capacity: Callable[[], int]
) -> Gas:
    """Tx-level storage gas added after validation (§3.1): a create tx pays contract-creation gas for
    the created address's bucket; a value call to a missing or EIP-161-empty callee (the callee
    itself, not its 7702 delegate) pays new-account gas for the callee's bucket. Rex charges only the
    creation part for a create (code wins over specs/Rex.md §2.2.3). `bucket_capacity` is called only
    when a charge is due."""
    if spec < Spec.MINI_REX:
        return Gas()
    if is_create:
        return create_storage_gas(spec, bucket_capacity)
    if value != 0 and callee_empty:
        return scaled_storage_gas(spec, SCHEDULE[spec].new_account_storage, bucket_capacity)
    return Gas()


def starts_out_of_gas(gas_limit: int, initial: Gas) -> bool:
    """Intrinsic plus tx-level storage gas above the gas limit: the tx is *included* as an OutOfGas
    halt spending its whole gas limit, without running a frame (§3, step 6)."""
    return initial.total > gas_limit


class Outcome(Enum):
    """How the top frame ended."""

    SUCCESS = "success"
    REVERT = "revert"
    HALT = "halt"


def tx_gas_used(
    *,
    gas_limit: int,
    outcome: Outcome,
    remaining: int,
    refund_counter: int,
    eip7702_refund: int,
    rescued: int,
    floor: int,
) -> int:
    """Receipt `gasUsed` (§3 steps 7–8, §4.7): a halt spends everything, success/revert return
    `remaining`; then the MegaETH rescue gives back `rescued` (the remaining gas of every frame that
    returned after a resource limit was crossed, top frame included, which is why a limit halt ends
    at "gas actually consumed"); refund = min(counter on success + 7702 refund, spent / 5); finally
    the EIP-7623 floor, which cannot take more than the gas limit: validation checks only the standard floor
    before Rex5, so a gas limit may sit below the MegaETH one (revm `eip7623_check_gas_floor` →
    `Gas::set_spent`, which saturates at the limit)."""
    spent = gas_limit - (0 if outcome is Outcome.HALT else remaining) - rescued
    refund = min((refund_counter if outcome is Outcome.SUCCESS else 0) + eip7702_refund, spent // 5)
    return min(max(spent - refund, floor), gas_limit)
