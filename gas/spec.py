"""MegaETH spec ids, fork schedule and chain configs: the entry point of the `gas` package.

`gas` is a leaf package of pure data and pure functions (it imports nothing else of ours). Every
MegaETH execution rule lives in exactly one function whose docstring cites its section of
`spec/mega-evm.md` (written "§n"); constants live in frozen per-`Spec` schedules built by table
edits. Modules:

* `spec`      — `Spec` (ordered), `ForkSchedule`, `spec_at`, `ChainConfig`, mainnet / test-chain configs.
* `schedule`  — `GasSchedule` per `Spec` (`SCHEDULE[spec]`), the `Gas` vector (compute, storage).
* `intrinsic` — intrinsic gas, EIP-7623 floor, tx-level storage gas, receipt `gasUsed` (§3, §4.7).
* `storage`   — SALT bucket multiplier, SSTORE/new-account/create/code-deposit/LOG storage gas,
                code and initcode size limits (§5.1–5.2).
* `opcodes`   — compute-gas metering, 98/100 forwarding, SELFDESTRUCT, oracle SLOAD, KZG price (§4.1, §5).
* `limits`    — data size / KV updates / state growth counting with per-frame discard, tx and block
                limits, what happens when one is hit (§4).
* `detention` — volatile-data access and the compute-limit cap, Rex vs Rex1 carry-over (§6).
* `system`    — system contract and fee-vault addresses, Mega system txs, deposit constants (§7).
* `l1fee`     — FastLZ, Fjord L1 data fee, Isthmus operator fee, fee split (§7.4).

Every MegaSpecId runs on OP Isthmus (Ethereum Prague); this package only covers the MegaETH layer
and the OP fee formulas py-evm lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import IntEnum


class Spec(IntEnum):
    """`MegaSpecId` (§2.1); ordered, so rules test `spec >= Spec.REX`. REX3 will be appended as 5."""

    EQUIVALENCE = 0
    MINI_REX = 1
    REX = 2
    REX1 = 3
    REX2 = 4


class UnsupportedSpec(ValueError):
    """A block timestamp falls under a MegaETH hardfork this package does not implement (e.g. Rex3)."""


@dataclass(frozen=True, slots=True)
class ForkSchedule:
    """MegaETH hardfork activation timestamps (genesis keys `miniRexTime` …; None = never) (§2.2).

    `rex3` is kept so real configs (mainnet has `rex3Time`) load; `spec_at` refuses it.
    """

    mini_rex: int | None = None
    mini_rex1: int | None = None
    mini_rex2: int | None = None
    rex: int | None = None
    rex1: int | None = None
    rex2: int | None = None
    rex3: int | None = None


GENESIS_KEYS: dict[str, str] = {
    "mini_rex": "miniRexTime",
    "mini_rex1": "miniRex1Time",
    "mini_rex2": "miniRex2Time",
    "rex": "rexTime",
    "rex1": "rex1Time",
    "rex2": "rex2Time",
    "rex3": "rex3Time",
}
assert set(GENESIS_KEYS) == {f.name for f in fields(ForkSchedule)}, "genesis key missing for a fork"


def _active(at: int | None, timestamp: int) -> bool:
    return at is not None and timestamp >= at


def spec_at(forks: ForkSchedule, timestamp: int) -> Spec:
    """Spec id at a block timestamp: newest active fork wins; MiniRex1 is a rollback to Equivalence
    and MiniRex2 restores MiniRex (§2.2; mega-evm `block/hardfork.rs` `spec_id`)."""
    if _active(forks.rex3, timestamp):
        raise UnsupportedSpec(f"Rex3 is active at timestamp {timestamp} (since {forks.rex3})")
    ordered = (
        (forks.rex2, Spec.REX2),
        (forks.rex1, Spec.REX1),
        (forks.rex, Spec.REX),
        (forks.mini_rex2, Spec.MINI_REX),
        (forks.mini_rex1, Spec.EQUIVALENCE),
        (forks.mini_rex, Spec.MINI_REX),
    )
    return next((spec for at, spec in ordered if _active(at, timestamp)), Spec.EQUIVALENCE)


def fork_schedule_from_genesis(config: Mapping[str, object]) -> ForkSchedule:
    """Read the MegaETH fork times from a genesis `config` object (camelCase keys; absent = never)."""
    times: dict[str, int | None] = {}
    for name, key in GENESIS_KEYS.items():
        value = config.get(key)
        if value is not None and not isinstance(value, int):
            raise ValueError(f"genesis config {key} must be an integer timestamp, got {value!r}")
        times[name] = value
    return ForkSchedule(**times)


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """Chain id plus MegaETH fork schedule. All Ethereum forks ≤ Prague and OP forks ≤ Isthmus are
    active from genesis on every MegaETH chain (stateless-validator.md §4.1–4.2)."""

    chain_id: int
    forks: ForkSchedule
    system_contracts: bool = True
    """Whether blocks install MegaETH's system contracts (`gas.system.system_contract_code_hashes`, §8):
    every real MegaETH chain; not a dev chain whose node does not carry their bytecode."""


MAINNET = ChainConfig(
    chain_id=4326,
    forks=ForkSchedule(
        mini_rex=0,
        mini_rex1=1764845637,
        mini_rex2=1764849932,
        rex=1764851940,
        rex1=1766282400,
        rex2=1770246000,
        rex3=1771639200,
    ),
)
"""MegaETH mainnet (genesis/mainnet/genesis.json; stateless-validator.md §4.5)."""

TESTNET = ChainConfig(chain_id=6342, forks=ForkSchedule(mini_rex=0, rex=0))
"""Chain 6342 of the test blocks 1139–1160: MiniRex and Rex at 0, no Rex1/Rex2 (§2.3)."""
