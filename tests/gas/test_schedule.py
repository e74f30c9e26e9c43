"""Per-spec gas tables and the Gas vector (mega-evm.md §2.1, §4.6, §5.2)."""

from __future__ import annotations

from dataclasses import replace

from gas.schedule import SCHEDULE, UNLIMITED, Gas, Limits
from gas.spec import Spec


def test_gas_vector() -> None:
    total = Gas(compute=21_000) + Gas(storage=39_000)
    assert total == Gas(21_000, 39_000) and total.total == 60_000


def test_schedule_table_edits() -> None:
    """Each spec differs from the previous one only by its listed changes (§2.1)."""
    rex, rex1, rex2 = SCHEDULE[Spec.REX], SCHEDULE[Spec.REX1], SCHEDULE[Spec.REX2]
    equivalence, mini_rex = SCHEDULE[Spec.EQUIVALENCE], SCHEDULE[Spec.MINI_REX]
    assert equivalence.tx_limits == Limits() and equivalence.tx_intrinsic_storage == 0
    assert mini_rex.sstore_set_storage == 2_000_000 and mini_rex.tx_intrinsic_storage == 0
    assert rex.tx_intrinsic_storage == 39_000 and rex.bucket_multiplier_offset == 1
    assert rex.sstore_set_storage == 20_000 and rex.new_account_storage == 25_000
    assert rex.contract_creation_storage == 32_000
    assert rex.block_limits == Limits(UNLIMITED, 13_107_200, 500_000, 1_000)
    assert not rex.reset_tx_limits_each_tx and rex1.reset_tx_limits_each_tx
    assert replace(rex, reset_tx_limits_each_tx=True) == rex1
    assert rex2.selfdestruct_enabled and rex2.keyless_deploy_overhead_gas == 100_000

