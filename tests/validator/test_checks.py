"""The validator's pre-replay checks on real blocks, and their rejections."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from salt.witness import decode_mpt_witness, decode_witness_file
from validator.checks import Invalid, check_block, check_witnesses
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
