"""OP-stack fees py-evm lacks: Fjord L1 data fee (FastLZ), Isthmus operator fee, fee split (§7.4–7.5)."""

from __future__ import annotations

from dataclasses import dataclass

from gas.fastlz import compress_len as _flz_native
from gas.system import DEPOSIT_TX_TYPE

FJORD_MIN_ESTIMATED_SIZE = 100_000_000  # bytes × 1e6
FJORD_FASTLZ_COEFFICIENT = 836_500
FJORD_INTERCEPT = -42_585_600
OPERATOR_FEE_SCALAR_DECIMALS = 1_000_000
L1_BASE_FEE_SLOT, L1_FEE_SCALARS_SLOT, L1_BLOB_BASE_FEE_SLOT, OPERATOR_FEE_PARAMS_SLOT = 1, 3, 7, 8

_HASH_SIZE = 8192
_MAX_DISTANCE = 8191


def _u24(data: bytes, i: int) -> int:
    return data[i] | data[i + 1] << 8 | data[i + 2] << 16


def _hash(v: int) -> int:
    return ((2654435769 * v) & 0xFFFFFFFF) >> 19


def _literals_length(count: int) -> int:
    return 33 * (count // 32) + (count % 32 + 1 if count % 32 else 0)


def _match_length(length: int) -> int:
    rest = length - 1
    return 3 * (rest // 262) + (3 if rest % 262 >= 6 else 2)


def flz_compress_len(data: bytes) -> int:
    """Length of the level-1 FastLZ compression of `data` as op-geth `FlzCompressLen` / Solady
    `flzCompress` compute it (§9.2): in C (`gas.fastlz`) where it builds, else `flz_compress_len_py`."""
    return (_flz_native() or flz_compress_len_py)(data)


def flz_compress_len_py(data: bytes) -> int:
    """`flz_compress_len` in Python: the algorithm as §9.2 gives it (and the C version's reference)."""
    n = len(data)
    limit = n - 13 if n >= 13 else 0
    table = [0] * _HASH_SIZE
    size = anchor = 0
    ip = 2
    while ip < limit:
        while True:  # find a 3-byte match within the window
            seq = _u24(data, ip)
            h = _hash(seq)
            ref, table[h] = table[h], ip
            if ip >= limit:
                break
            ip += 1
            if ip - 1 - ref <= _MAX_DISTANCE and _u24(data, ref) == seq:
                break
        if ip >= limit:
            break
        ip -= 1
        if ip > anchor:
            size += _literals_length(ip - anchor)
        length, bound = 0, limit + 9 - (ip + 3)
        while length < bound:
            length += 1
            if data[ref + 3 + length - 1] != data[ip + 3 + length - 1]:
                break
        size += _match_length(length)
        for position in (ip + length, ip + length + 1):
            table[_hash(_u24(data, position))] = position
        ip = anchor = ip + length + 2
    return size + _literals_length(n - anchor)


@dataclass(frozen=True, slots=True)
class L1FeeParams:
    """L1Block (`0x4200…0015`) fee parameters, reloaded after each block's L1-info deposit (§7.4)."""

    l1_base_fee: int = 0
    base_fee_scalar: int = 0
    l1_blob_base_fee: int = 0
    blob_base_fee_scalar: int = 0
    operator_fee_scalar: int = 0
    operator_fee_constant: int = 0


def l1_fee_params_from_storage(slots: dict[int, int]) -> L1FeeParams:
    """Decode L1Block storage (§7.4): slot 1 l1BaseFee; slot 3 big-endian word with baseFeeScalar in
    bytes [16,20) and blobBaseFeeScalar in [20,24); slot 7 l1BlobBaseFee; slot 8 operatorFeeScalar in
    bytes [20,24) and operatorFeeConstant in [24,32). Missing slots read as 0."""
    scalars = slots.get(L1_FEE_SCALARS_SLOT, 0).to_bytes(32, "big")
    operator = slots.get(OPERATOR_FEE_PARAMS_SLOT, 0).to_bytes(32, "big")
    return L1FeeParams(
        l1_base_fee=slots.get(L1_BASE_FEE_SLOT, 0),
        base_fee_scalar=int.from_bytes(scalars[16:20], "big"),
        l1_blob_base_fee=slots.get(L1_BLOB_BASE_FEE_SLOT, 0),
        blob_base_fee_scalar=int.from_bytes(scalars[20:24], "big"),
        operator_fee_scalar=int.from_bytes(operator[20:24], "big"),
        operator_fee_constant=int.from_bytes(operator[24:32], "big"),
    )


def l1_fee_scaled(params: L1FeeParams) -> int:
    """`16·baseFeeScalar·l1BaseFee + blobBaseFeeScalar·l1BlobBaseFee` (§7.4)."""
    calldata = 16 * params.base_fee_scalar * params.l1_base_fee
    return calldata + params.blob_base_fee_scalar * params.l1_blob_base_fee


def fjord_estimated_size(fastlz_length: int) -> int:
    """Estimated compressed size × 1e6: `max(100,000,000, 836,500·fastlz − 42,585,600)` (§7.4)."""
    return max(FJORD_MIN_ESTIMATED_SIZE, FJORD_FASTLZ_COEFFICIENT * fastlz_length + FJORD_INTERCEPT)


def l1_data_fee(params: L1FeeParams, tx_bytes: bytes) -> int:
    """Fjord L1 data fee of the full EIP-2718 signed tx: `est_size · l1_fee_scaled // 10^12`; zero for
    empty input and deposits (first byte 0x7e). Mega system txs are deposits by then and pay none (§7.4)."""
    if not tx_bytes or tx_bytes[0] == DEPOSIT_TX_TYPE:
        return 0
    return fjord_estimated_size(flz_compress_len(tx_bytes)) * l1_fee_scaled(params) // 10**12


def operator_fee(params: L1FeeParams, gas: int) -> int:
    """Isthmus operator fee `gas · scalar // 1e6 + constant`: charged on the gas limit upfront,
    credited to the OperatorFeeVault on gasUsed (§7.4)."""
    return gas * params.operator_fee_scalar // OPERATOR_FEE_SCALAR_DECIMALS + params.operator_fee_constant


def operator_fee_refund(params: L1FeeParams, gas_limit: int, gas_used: int) -> int:
    """Operator fee given back to the caller: `fee(gas_limit) − fee(gas_used)`, floored at 0 (§7.4)."""
    return max(0, operator_fee(params, gas_limit) - operator_fee(params, gas_used))


def effective_gas_price(base_fee: int, max_fee: int, max_priority_fee: int | None = None) -> int:
    """`min(maxFee, baseFee + maxPriorityFee)` for EIP-1559/7702 txs; a legacy tx passes its gasPrice as
    `max_fee` and no priority fee (§7.4)."""
    return max_fee if max_priority_fee is None else min(max_fee, base_fee + max_priority_fee)


@dataclass(frozen=True, slots=True)
class FeeSplit:
    """Balance changes of one ordinary (non-deposit, non-system) tx, all in wei (§7.4)."""

    sender_upfront: int
    sender_refund: int
    coinbase: int
    base_fee_vault: int
    l1_fee_vault: int
    operator_fee_vault: int


def fee_split(
    params: L1FeeParams,
    *,
    gas_limit: int,
    gas_used: int,
    effective_price: int,
    base_fee: int,
    l1_fee: int,
) -> FeeSplit:
    """Fee flows of an ordinary tx (§7.4–7.5): the sender pays `gas_limit·price + L1 fee + operator
    fee(gas_limit)` upfront and gets back `(gas_limit − gasUsed)·price` plus the operator-fee
    difference; the coinbase gets the priority part, BaseFeeVault the base fee, L1FeeVault the L1
    fee, OperatorFeeVault the operator fee on gasUsed. Deposits and Mega system txs move no fees."""
    return FeeSplit(
        sender_upfront=gas_limit * effective_price + l1_fee + operator_fee(params, gas_limit),
        sender_refund=(gas_limit - gas_used) * effective_price
        + operator_fee_refund(params, gas_limit, gas_used),
        coinbase=gas_used * (effective_price - base_fee),
        base_fee_vault=gas_used * base_fee,
        l1_fee_vault=l1_fee,
        operator_fee_vault=operator_fee(params, gas_used),
    )
