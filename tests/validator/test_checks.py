"""The validator's pre-replay checks on real blocks, and their rejections."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from gas.system import L1_BLOCK_ADDRESS
from salt.store import WitnessState
from salt.witness import decode_mpt_witness, decode_witness_file
from validator.checks import Invalid, check_block, check_witnesses, post_state_root, post_state_updates
from megaeth_node.executor.state import StateDiff
from megaeth_node.fixtures import fixture_blocks


def _pair(testdata: Path, i: int):  # type: ignore[no-untyped-def]
    fbs = fixture_blocks(testdata)
    parent, child = fbs[i - 1].block(), fbs[i]
    assert child.salt_path and child.mpt_path
    return (parent.header, child.block(), decode_witness_file(child.salt_path.read_bytes()),
            decode_mpt_witness(child.mpt_path.read_bytes()))


def test_real_blocks_pass_pre_replay_checks(testdata: Path) -> None:
    for i in (1, 2, 9):
        parent, block, salt, mpt = _pair(testdata, i)
        check_block(block, parent)
        check_witnesses(block, parent, salt, mpt)


def test_wrong_parent_is_rejected(testdata: Path) -> None:
    parent, block, salt, mpt = _pair(testdata, 3)
    other_parent, *_ = _pair(testdata, 2)
    with pytest.raises(Invalid, match="number"):
        check_block(block, other_parent)
    with pytest.raises(Invalid, match="parentHash"):
        check_block(block, replace(parent, extra_data=b"x"))


def test_witness_of_another_block_is_rejected(testdata: Path) -> None:
    parent, block, salt, mpt = _pair(testdata, 3)
    _, _, other_salt, other_mpt = _pair(testdata, 4)
    with pytest.raises(Invalid, match="witness parent hash"):
        check_witnesses(block, parent, other_salt, mpt)
    with pytest.raises(Invalid, match="SALT witness"):
        check_witnesses(block, parent, replace(other_salt, parent_hash=salt.parent_hash), mpt)
    with pytest.raises(Invalid, match="MPT witness storage root"):
        check_witnesses(block, parent, salt, other_mpt)


def test_a_storage_wipe_deletes_every_slot_the_witness_holds(testdata: Path) -> None:
    """Rex2's oracle upgrade re-creates the oracle with its storage cleared (§8). For such a wipe (here of the
    L1Block contract, whose slots a real block's witness holds) the SALT update deletes each of the account's
    slots in the witness and keeps a slot the block wrote again after the wipe."""
    _, _, salt, _ = _pair(testdata, 2)
    witness = WitnessState(salt.salt_witness)
    slots = sorted(k for k in witness.lookup if len(k) == 52 and k.startswith(L1_BLOCK_ADDRESS))
    assert len(slots) >= 2
    kept = int.from_bytes(slots[0][20:], "big")
    diff = StateDiff(accounts={}, storage={(L1_BLOCK_ADDRESS, kept): 7}, storage_wiped=frozenset({L1_BLOCK_ADDRESS}))
    updates = post_state_updates(diff, witness)
    assert updates[slots[0]] == (7).to_bytes(32, "big")
    assert all(updates[k] is None for k in slots[1:]) and len(updates) == len(slots)
    # deleting needs the neighbouring slots of each (SHI deletion), which a witness made for this block lacks:
    # a witness that cannot prove the wipe is a rejected block, never a root computed without it
    with pytest.raises(Invalid, match="SALT update"):
        post_state_root(witness, updates)
