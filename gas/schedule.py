"""Per-spec gas constants and limits, frozen tables built by edits (§2.1, §4.6, §5.2); the `Gas` vector."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gas.spec import Spec

UNLIMITED = 2**64 - 1
"""`u64::MAX`, upstream's "no limit"; comparisons against it never trigger."""

MIN_BUCKET_SIZE = 256
"""Minimum SALT bucket capacity; the storage-gas multiplier is `capacity // MIN_BUCKET_SIZE` (§5.1)."""

CREATE, CALL, CALLCODE, DELEGATECALL, CREATE2, STATICCALL = 0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA
SELFDESTRUCT = 0xFF


@dataclass(frozen=True, slots=True)
class Gas:
    """Gas as a vector: compute gas (what standard Prague charges) and MegaETH storage gas (§4.1–4.2).

    The tx pays `total`; only `compute` counts against the compute-gas limit.
    """

    compute: int = 0
    storage: int = 0

    @property
    def total(self) -> int:
        return self.compute + self.storage

    def __add__(self, other: Gas) -> Gas:
        return Gas(self.compute + other.compute, self.storage + other.storage)


@dataclass(frozen=True, slots=True)
class Limits:
    """The four MegaETH resource limits; a usage strictly above a limit exceeds it (§4.1, §4.6)."""

    compute_gas: int = UNLIMITED
    data_size: int = UNLIMITED
    kv_updates: int = UNLIMITED
    state_growth: int = UNLIMITED


@dataclass(frozen=True, slots=True)
class GasSchedule:
    """Everything a rule function looks up per spec. Prague values first, then MegaETH additions."""

    # Prague intrinsic gas (revm `validate_initial_tx_gas`), unchanged by every spec (§3.1).
    tx_base: int = 21_000
    calldata_per_token: int = 4
    access_list_address: int = 2_400
    access_list_storage_key: int = 1_900
    per_authorization: int = 25_000
    tx_create: int = 32_000
    initcode_per_word: int = 2
    floor_per_token: int = 10
    # MegaETH storage gas (§3.1, §5.2). Bucket-scaled items cost `base × (m − bucket_multiplier_offset)`.
    tx_intrinsic_storage: int = 0
    calldata_storage_per_token: int = 0
    floor_storage_per_token: int = 0
    sstore_set_storage: int = 0
    new_account_storage: int = 0
    contract_creation_storage: int = 0
    bucket_multiplier_offset: int = 0
    code_deposit_storage_per_byte: int = 0
    log_topic_storage: int = 0
    log_data_storage_per_byte: int = 0
    new_account_storage_opcodes: frozenset[int] = frozenset()
    # Code size limits (§5.2).
    max_code_size: int = 24_576
    max_initcode_size: int = 49_152
    # Opcode / precompile changes (§5.2–5.3).
    capped_forward_opcodes: frozenset[int] = frozenset()
    forward_retained_percent: int = 2
    selfdestruct_enabled: bool = True
    oracle_sload_always_cold: bool = False
    kzg_point_evaluation_gas: int = 50_000
    modexp_eip7883: bool = False
    # Gas detention caps on compute gas after volatile access (§6.1); UNLIMITED = no detention.
    block_env_access_compute_cap: int = UNLIMITED
    oracle_access_compute_cap: int = UNLIMITED
    reset_tx_limits_each_tx: bool = True
    # Resource limits (§4.6); the block gas limit comes from the header.
    tx_limits: Limits = field(default_factory=Limits)
    block_limits: Limits = field(default_factory=Limits)
    # Mega system txs (§7.2) and the REX2 KeylessDeploy overhead (§2.1).
    mega_system_tx: bool = False
    keyless_deploy_overhead_gas: int = 0


PRAGUE = GasSchedule()

MINI_REX_CHANGES: dict[str, object] = dict(
    calldata_storage_per_token=40,
    floor_storage_per_token=100,
    sstore_set_storage=2_000_000,
    new_account_storage=2_000_000,
    contract_creation_storage=2_000_000,  # MiniRex charges the new-account gas for creations
    code_deposit_storage_per_byte=10_000,
    log_topic_storage=3_750,
    log_data_storage_per_byte=80,
    new_account_storage_opcodes=frozenset({CALL}),
    max_code_size=512 * 1024,
    max_initcode_size=512 * 1024 + 24 * 1024,
    capped_forward_opcodes=frozenset({CALL, CREATE, CREATE2}),
    selfdestruct_enabled=False,
    oracle_sload_always_cold=True,
    kzg_point_evaluation_gas=100_000,
    modexp_eip7883=True,
    block_env_access_compute_cap=20_000_000,
    oracle_access_compute_cap=1_000_000,
    reset_tx_limits_each_tx=False,
    tx_limits=Limits(compute_gas=1_000_000_000, data_size=3_276_800, kv_updates=125_000),
    block_limits=Limits(data_size=13_107_200, kv_updates=500_000),
    mega_system_tx=True,
)

REX_CHANGES: dict[str, object] = dict(
    tx_intrinsic_storage=39_000,
    sstore_set_storage=20_000,
    new_account_storage=25_000,
    contract_creation_storage=32_000,
    bucket_multiplier_offset=1,
    new_account_storage_opcodes=frozenset({CALL, CALLCODE}),
    capped_forward_opcodes=frozenset({CALL, CALLCODE, DELEGATECALL, STATICCALL, CREATE, CREATE2}),
    tx_limits=Limits(compute_gas=200_000_000, data_size=13_107_200, kv_updates=500_000, state_growth=1_000),
    block_limits=Limits(data_size=13_107_200, kv_updates=500_000, state_growth=1_000),
)

REX1_CHANGES: dict[str, object] = dict(reset_tx_limits_each_tx=True)

REX2_CHANGES: dict[str, object] = dict(selfdestruct_enabled=True, keyless_deploy_overhead_gas=100_000)

SCHEDULE: dict[Spec, GasSchedule] = {Spec.EQUIVALENCE: PRAGUE}
SCHEDULE[Spec.MINI_REX] = replace(SCHEDULE[Spec.EQUIVALENCE], **MINI_REX_CHANGES)  # type: ignore[arg-type]
SCHEDULE[Spec.REX] = replace(SCHEDULE[Spec.MINI_REX], **REX_CHANGES)  # type: ignore[arg-type]
SCHEDULE[Spec.REX1] = replace(SCHEDULE[Spec.REX], **REX1_CHANGES)  # type: ignore[arg-type]
SCHEDULE[Spec.REX2] = replace(SCHEDULE[Spec.REX1], **REX2_CHANGES)  # type: ignore[arg-type]
assert set(SCHEDULE) == set(Spec), "gas schedule missing for a spec"
