"""Spec ids, fork schedule and chain configs (mega-evm.md §2; stateless-validator.md §4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gas.schedule import SCHEDULE
from gas.spec import (
    MAINNET,
    TESTNET,
    ForkSchedule,
    Spec,
    UnsupportedSpec,
    fork_schedule_from_genesis,
    spec_at,
)

GENESIS = Path(__file__).resolve().parents[3] / "shared" / "megaeth-testdata" / "genesis"


def test_spec_is_ordered() -> None:
    assert list(Spec) == [Spec.EQUIVALENCE, Spec.MINI_REX, Spec.REX, Spec.REX1, Spec.REX2]
    assert [int(s) for s in Spec] == [0, 1, 2, 3, 4]
    assert Spec.REX1 >= Spec.REX > Spec.MINI_REX


def test_every_spec_has_a_schedule() -> None:
    assert set(SCHEDULE) == set(Spec)


def test_spec_at_newest_fork_wins() -> None:
    forks = ForkSchedule(mini_rex=0, rex=100, rex1=200, rex2=300)
    assert spec_at(forks, 0) is Spec.MINI_REX
    assert spec_at(forks, 99) is Spec.MINI_REX
    assert spec_at(forks, 100) is Spec.REX
    assert spec_at(forks, 200) is Spec.REX1
    assert spec_at(forks, 300) is Spec.REX2
    assert spec_at(ForkSchedule(), 10**10) is Spec.EQUIVALENCE


def test_spec_at_mini_rex1_rollback() -> None:
    """MiniRex1 rolls back to Equivalence; MiniRex2 restores MiniRex (§2.2)."""
    forks = MAINNET.forks
    assert spec_at(forks, 1764845636) is Spec.MINI_REX
    assert spec_at(forks, 1764845637) is Spec.EQUIVALENCE
    assert spec_at(forks, 1764849932) is Spec.MINI_REX
    assert spec_at(forks, 1764851940) is Spec.REX
    assert spec_at(forks, 1766282400) is Spec.REX1
    assert spec_at(forks, 1770246000) is Spec.REX2


def test_spec_at_refuses_rex3() -> None:
    with pytest.raises(UnsupportedSpec):
        spec_at(MAINNET.forks, 1771639200)


def test_testnet_blocks_run_rex() -> None:
    """Blocks 1139-1160 (timestamps 1765617020-1765617041) run Rex on chain 6342 (§2.3)."""
    assert TESTNET.chain_id == 6342
    assert spec_at(TESTNET.forks, 1765617020) is Spec.REX
    assert spec_at(MAINNET.forks, 1765617020) is Spec.REX  # mainnet ran Rex at that time too


def test_fork_schedule_from_genesis() -> None:
    path = GENESIS / "mainnet" / "genesis.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    config = json.loads(path.read_text())["config"]
    assert config["chainId"] == MAINNET.chain_id
    assert fork_schedule_from_genesis(config) == MAINNET.forks
    assert fork_schedule_from_genesis({"miniRexTime": 0, "rexTime": 0}) == TESTNET.forks
    with pytest.raises(ValueError):
        fork_schedule_from_genesis({"rexTime": "0"})
