"""Validate one block from its witnesses (spec/stateless-validator.md §2.3): witness proof against the parent,
replay over the witness, then every header commitment. Returns a `Verdict`, never raises for bad input."""

from __future__ import annotations

import time
from collections.abc import Mapping

from gas.spec import ChainConfig
from megaeth_node.executor.block import InvalidBlock, apply_block
from megaeth_node.executor.state import MissingStateKey
from megaeth_node.executor.witness import WitnessReader
from megaeth_node.types import Block, ChainDataError, Header
from salt.store import WitnessMissingKey, WitnessState
from salt.witness import WitnessDecodeError, decode_mpt_witness, decode_witness_file
from validator.checks import (
    Invalid, Verdict, check_block, check_receipts, check_state_root, check_withdrawals_root, check_witnesses,
    post_state_updates,
)


def _check(block: Block, parent: Header, salt_bytes: bytes, mpt_bytes: bytes, codes: Mapping[bytes, bytes],
           chain: ChainConfig) -> None:
    check_block(block, parent)
    try:
        salt, mpt = decode_witness_file(salt_bytes), decode_mpt_witness(mpt_bytes)
    except WitnessDecodeError as e:
        raise Invalid("witness encoding", detail=str(e)) from e
    check_witnesses(block, parent, salt, mpt)
    witness = WitnessState(salt.salt_witness)
    reader = WitnessReader(witness, codes, block.header.number, block.header.parent_hash)
    try:
        result = apply_block(reader, block, chain)
    except (InvalidBlock, MissingStateKey, ChainDataError) as e:
        raise Invalid("replay", detail=str(e)) from e
    updates = post_state_updates(result.state_diff)
    check_withdrawals_root(block.header, mpt, result.state_diff)
    check_receipts(block.header, result.receipts)
    try:
        root, _ = witness.apply(updates)
    except WitnessMissingKey as e:
        raise Invalid("SALT update", detail=f"the witness does not cover a slot the update needs: {e}") from e
    check_state_root(block.header, root)


def validate_block(block: Block, parent: Header, salt_bytes: bytes, mpt_bytes: bytes,
                   codes: Mapping[bytes, bytes], chain: ChainConfig) -> Verdict:
    """The verdict for `block` given its trusted parent header, its two witness files and known code."""
    start = time.perf_counter()
    try:
        _check(block, parent, salt_bytes, mpt_bytes, codes, chain)
    except Invalid as e:
        return Verdict(block.header.number, block.hash, False, e.field, e.expected, e.got, e.detail,
                       (time.perf_counter() - start) * 1000)
    return Verdict(block.header.number, block.hash, True, ms=(time.perf_counter() - start) * 1000)
