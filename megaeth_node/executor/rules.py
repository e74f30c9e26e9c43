"""Hook points where the MegaETH (Rex) rules from `gas/` plug into the Isthmus base (spec/mega-evm.md §1, §3).

`IsthmusRules` is plain OP Isthmus (`Spec.EQUIVALENCE`). A MegaETH rule set overrides:
* `state_class`: an `OpState` subclass whose computation class wraps opcodes (SSTORE/LOG/CALL*/CREATE*
  storage gas, compute-gas meter, 98/100 forwarding, SELFDESTRUCT, oracle SLOAD; §3.2, §5) and whose
  transaction executor adds intrinsic storage gas, the 110/token floor and resource limits (§3.1, §4);
* `after_system_calls`: block-level state after the EIP-2935/4788 calls (Rex detention carry-over, §6.4);
* `before_transaction`: per-tx meters and detention tracker reset (§3 step 2), Mega system tx check (§7.2).
"""

from __future__ import annotations

from eth.abc import SignedTransactionAPI, StateAPI
from gas.spec import Spec

from megaeth_node.executor.op import OpState, OpVM


class IsthmusRules:
    """OP Isthmus without MegaETH additions; the base every MegaETH spec builds on."""

    state_class: type[OpState] = OpState
    vm_class: type[OpVM] = OpVM

    def __init__(self, spec: Spec = Spec.EQUIVALENCE) -> None:
        self.spec = spec

    def after_system_calls(self, state: StateAPI) -> None:
        """Called once per block after the pre-block system calls."""

    def before_transaction(self, state: StateAPI, tx: SignedTransactionAPI) -> None:
        """Called before each transaction of the block."""


def rules_for(spec: Spec) -> IsthmusRules:
    """The rule set of a MegaETH spec: plain Isthmus for Equivalence, `RexRules` for MiniRex to Rex2."""
    if spec == Spec.EQUIVALENCE:
        return IsthmusRules(spec)
    from megaeth_node.executor.rex import RexRules  # rex.py builds on this module

    return RexRules(spec)
