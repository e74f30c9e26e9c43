"""The per-block checks of the stateless validator around the replay (spec/stateless-validator.md §2.2, §2.3, §5, §7).

Each check raises `Invalid` naming the first mismatching field with both values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_hash.auto import keccak

from megaeth_node.executor.state import StateDiff
from megaeth_node.salt_state import salt_updates
from megaeth_node.types import Block, ChainDataError, Header, Receipt, receipts_root, verify_block_integrity
from salt.multiproof import WitnessVerifyError, verify_witness
from salt.store import WitnessMissingKey, WitnessState
from salt.witness import MptWitness, WitnessFile
from validator.withdrawals import EMPTY_TRIE_ROOT, MESSAGE_PASSER, WithdrawalsRootError, storage_root_after


class Invalid(Exception):
    """The block is invalid: `field` is the first failing check, with the expected and computed values."""

    def __init__(self, field: str, expected: str = "", got: str = "", detail: str = "") -> None:
        super().__init__(f"{field}: expected {expected}, got {got}" if expected or got else f"{field}: {detail}")
        self.field = field
        self.expected = expected
        self.got = got
        self.detail = detail


def _hex(b: bytes | None) -> str:
    return "none" if b is None else "0x" + b.hex()


def check_block(block: Block, parent: Header) -> None:
    """Integrity (§2.2) and the parent link: number and parentHash."""
    try:
        verify_block_integrity(block)
    except ChainDataError as e:
        raise Invalid("block integrity", detail=str(e)) from e
    if block.header.number != parent.number + 1:
        raise Invalid("number", str(parent.number + 1), str(block.header.number))
    if block.header.parent_hash != parent.hash:
        raise Invalid("parentHash", _hex(parent.hash), _hex(block.header.parent_hash))


def check_witnesses(block: Block, parent: Header, salt: WitnessFile, mpt: MptWitness) -> None:
    """The witnesses belong to the parent and prove its state (§2.1 `grow_local_chain`, §2.3 step 2)."""
    if salt.parent_hash != block.header.parent_hash:
        raise Invalid("witness parent hash", _hex(block.header.parent_hash), _hex(salt.parent_hash))
    try:
        verify_witness(salt.salt_witness, parent.state_root)
    except WitnessVerifyError as e:
        raise Invalid("SALT witness", detail=str(e)) from e
    if mpt.storage_root != parent.withdrawals_root:
        raise Invalid("MPT witness storage root", _hex(parent.withdrawals_root), _hex(mpt.storage_root))
    if mpt.storage_root != EMPTY_TRIE_ROOT and mpt.storage_root not in {keccak(n) for n in mpt.state}:
        raise Invalid("MPT witness", detail="the root node of the storage trie is missing")


def post_state_updates(diff: StateDiff, witness: WitnessState) -> dict[bytes, bytes | None]:
    """The block's SALT updates (§7). An account re-created with storage wiped (Rex2's oracle upgrade) loses
    every slot of it the witness holds: deleting a slot needs its proof, so a witness that left one out yields
    a state root the header does not have."""
    def stored_slots(address: bytes) -> list[bytes]:
        return [key for key in witness.lookup if len(key) == 52 and key.startswith(address)]
    return salt_updates(diff, stored_slots)


def check_withdrawals_root(header: Header, mpt: MptWitness, diff: StateDiff) -> None:
    """Apply the message passer's storage changes to the MPT witness (§5.2)."""
    if header.withdrawals_root is None:
        raise Invalid("withdrawalsRoot", detail="header has no withdrawalsRoot")
    updates = {slot: v for (addr, slot), v in diff.storage.items() if addr == MESSAGE_PASSER}
    try:
        root = storage_root_after(mpt.storage_root, mpt.state, updates)
    except WithdrawalsRootError as e:
        raise Invalid("withdrawalsRoot", detail=str(e)) from e
    if root != header.withdrawals_root:
        raise Invalid("withdrawalsRoot", _hex(header.withdrawals_root), _hex(root))


def check_receipts(header: Header, receipts: Sequence[Receipt], bloom: bytes) -> None:
    """receiptsRoot, logsBloom (`bloom`: the replay's, of all its logs) and gasUsed (§2.3 steps 7–9)."""
    root = receipts_root(receipts)
    if root != header.receipts_root:
        raise Invalid("receiptsRoot", _hex(header.receipts_root), _hex(root))
    if bloom != header.logs_bloom:
        raise Invalid("logsBloom", _hex(header.logs_bloom), _hex(bloom))
    gas_used = receipts[-1].cumulative_gas_used if receipts else 0
    if gas_used != header.gas_used:
        raise Invalid("gasUsed", str(header.gas_used), str(gas_used))


def post_state_root(witness: WitnessState, updates: dict[bytes, bytes | None]) -> bytes:
    """The SALT root after `updates` over the witness (§7); a slot the witness lacks makes the block invalid."""
    try:
        root, _ = witness.apply(updates)
    except WitnessMissingKey as e:
        raise Invalid("SALT update", detail=f"the witness does not cover a slot the update needs: {e}") from e
    return root


def check_state_root(header: Header, root: bytes) -> None:
    if root != header.state_root:
        raise Invalid("stateRoot", _hex(header.state_root), _hex(root))


@dataclass(frozen=True, slots=True)
class Verdict:
    """One block's result: valid, or the first failing check with both values."""

    number: int
    hash: bytes
    valid: bool
    field: str = ""
    expected: str = ""
    got: str = ""
    detail: str = ""
    ms: float = 0.0

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"block": self.number, "hash": _hex(self.hash), "valid": self.valid,
                                  "ms": round(self.ms, 2)}
        if not self.valid:
            out.update(field=self.field, expected=self.expected, got=self.got, detail=self.detail)
        return out
