"""L1 data fee (Fjord FastLZ), operator fee and fee split (mega-evm.md §7.4, §9.1–9.2).

Vectors: op-revm `fast_lz.rs` / `l1block.rs` tests and op-geth `TestFjordL1CostSolidityParity`.
"""

from __future__ import annotations

import random

import pytest

from gas.fastlz import compress_len
from gas.l1fee import (
    FeeSplit,
    L1FeeParams,
    effective_gas_price,
    fee_split,
    fjord_estimated_size,
    flz_compress_len,
    flz_compress_len_py,
    l1_data_fee,
    l1_fee_params_from_storage,
    l1_fee_scaled,
    operator_fee,
    operator_fee_refund,
)

SAMPLE_EIP1559_TX = bytes.fromhex(
    "02f901550a758302df1483be21b88304743f94f80e51afb613d764fa61751affd3313c190a86bb870151bd62fd12adb8e4"
    "1ef24f3f000000000000000000000000000000000000000000000000000000000000006e000000000000000000000000af"
    "88d065e77c8cc2239327c5edb3a432268e5831000000000000000000000000000000000000000000000000000000000003"
    "c1e5000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000a000000000000000000000000000000000000000000000000000000000"
    "000000148c89ed219d02f1a5be012c689b4f5b731827bebe000000000000000000000000c001a033fd89cb37c31b2cba46b6"
    "466e040c61fc9b2a3675a7f5f493ebd5ad77c497f8a07cdf65680e238392693019b4092f610222e71b7cec06449cb922b93b"
    "6a12744e"
)
BLOCK_1140_PARAMS = L1FeeParams(
    l1_base_fee=7, base_fee_scalar=1368, l1_blob_base_fee=1, blob_base_fee_scalar=810949
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", 0),
        (bytes(1000), 21),
        (bytes([42]) * 1000, 21),
        (bytes([1]) * 1000, 21),
        (bytes.fromhex("FACADE"), 4),
        (SAMPLE_EIP1559_TX, 202),
    ],
    ids=["empty", "zeros", "forty-twos", "ones", "facade", "sample-1559"],
)
def test_flz_compress_len(data: bytes, expected: int) -> None:
    assert flz_compress_len(data) == expected


def test_flz_compress_len_grows_without_repeats() -> None:
    lengths = [flz_compress_len(bytes(range(n))) for n in range(1, 257)]
    assert all(b > a for a, b in zip(lengths, lengths[1:]))


def test_fjord_estimated_size() -> None:
    assert fjord_estimated_size(4) == 100_000_000  # minimum
    assert fjord_estimated_size(170) == 100_000_000
    assert fjord_estimated_size(176) == 104_638_400
    assert fjord_estimated_size(202) == 126_387_400


def test_l1_fee_scaled() -> None:
    assert l1_fee_scaled(BLOCK_1140_PARAMS) == 964_165


def test_l1_data_fee() -> None:
    params = L1FeeParams(1_000, 1_000, 1_000, 1_000)
    assert l1_data_fee(params, bytes.fromhex("FACADE")) == 1_700
    assert l1_data_fee(params, SAMPLE_EIP1559_TX) == 2_148
    assert l1_data_fee(params, b"") == 0
    assert l1_data_fee(params, bytes.fromhex("7EFACADE")) == 0  # deposit
    # op-geth TestFjordL1CostSolidityParity: fastlz 235 -> 105,484 wei
    parity = L1FeeParams(
        l1_base_fee=2_000_000, base_fee_scalar=20, l1_blob_base_fee=3_000_000, blob_base_fee_scalar=15
    )
    assert fjord_estimated_size(235) * l1_fee_scaled(parity) // 10**12 == 105_484
    # §9.2: any tx with FastLZ length <= 170 pays 96 wei in blocks 1139-1155
    assert l1_data_fee(BLOCK_1140_PARAMS, SAMPLE_EIP1559_TX[:60]) == 96


def test_l1_fee_params_from_storage() -> None:
    scalars = (1368 << 96) | (810949 << 64)  # bytes [16,20) and [20,24) of the word
    operator = (2000 << 64) | 5  # bytes [20,24) and [24,32)
    params = l1_fee_params_from_storage({1: 7, 3: scalars, 7: 1, 8: operator})
    assert params == L1FeeParams(7, 1368, 1, 810949, 2000, 5)
    assert l1_fee_params_from_storage({}) == L1FeeParams()


def test_operator_fee() -> None:
    params = L1FeeParams(operator_fee_scalar=2_000, operator_fee_constant=5)
    assert operator_fee(params, 50_000) == 105
    assert operator_fee(L1FeeParams(), 50_000) == 0


def test_operator_fee_refund() -> None:
    params = L1FeeParams(operator_fee_scalar=2_000, operator_fee_constant=5)
    assert operator_fee_refund(params, 50_000, 0) == 100  # op-revm test_operator_fee_refund


def test_effective_gas_price() -> None:
    assert effective_gas_price(1_000_000, 2_000_000, 1_000_000) == 2_000_000
    assert effective_gas_price(1_000_000, 1_500_000, 1_000_000) == 1_500_000
    assert effective_gas_price(1_000_000, 3_000_000) == 3_000_000  # legacy gasPrice


def test_fee_split() -> None:
    """§9.2 fee-flow vector for 1140/11: gasUsed 60,000, price 2,000,000, base fee 1,000,000, L1 fee 96."""
    split = fee_split(
        BLOCK_1140_PARAMS,
        gas_limit=60_821,
        gas_used=60_000,
        effective_price=2_000_000,
        base_fee=1_000_000,
        l1_fee=96,
    )
    assert split == FeeSplit(
        sender_upfront=60_821 * 2_000_000 + 96,
        sender_refund=821 * 2_000_000,
        coinbase=60_000_000_000,
        base_fee_vault=60_000_000_000,
        l1_fee_vault=96,
        operator_fee_vault=0,
    )
    assert split.sender_upfront - split.sender_refund == 120_000_000_096


def test_flz_compress_len_c_matches_python() -> None:
    """The C FastLZ (gas/native/fastlz.c) against the Python reference on random, repetitive and long inputs."""
    native = compress_len()
    assert native is not None, "the C FastLZ must build on the test machine"
    rnd = random.Random(7)
    cases = [rnd.randbytes(rnd.randrange(600)) for _ in range(300)]
    cases += [bytes(rnd.choice((0, 0, 0, 1, 255)) for _ in range(rnd.randrange(600))) for _ in range(300)]
    cases += [(rnd.randbytes(rnd.randrange(1, 40)) * 40)[: rnd.randrange(800)] for _ in range(300)]
    cases += [SAMPLE_EIP1559_TX, rnd.randbytes(20_000) + bytes(20_000) + rnd.randbytes(100) * 300]
    for data in cases:
        assert native(data) == flz_compress_len_py(data), data.hex()
