"""EIP-1559 base fee with OP parameters, checked against the real MegaETH headers where it applies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gas.basefee import holocene_params, next_base_fee


def test_holocene_params_of_the_real_blocks(testdata: Path) -> None:
    block = json.loads(sorted((testdata / "blocks").glob("*.json"))[0].read_text())
    assert holocene_params(bytes.fromhex(block["extraData"][2:])) == (1000, 2)


def test_next_base_fee_rules() -> None:
    assert next_base_fee(10**9, 15_000_000, 30_000_000, 8, 2) == 10**9
    assert next_base_fee(10**9, 30_000_000, 30_000_000, 8, 2) == 1_125_000_000
    assert next_base_fee(10**9, 0, 30_000_000, 8, 2) == 875_000_000
    assert next_base_fee(7, 15_000_001, 30_000_000, 8, 2) == 8  # increase is at least 1 wei
    assert next_base_fee(1_000_000, 0, 2_000_000_000, 250, 2, minimum=1_000_000) == 1_000_000


def test_bad_extra_data() -> None:
    with pytest.raises(ValueError):
        holocene_params(b"\x01" * 9)
