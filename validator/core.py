"""Validate one block from its witnesses (spec/stateless-validator.md §2.3): witness proof against the parent,
replay over the witness, then every header commitment. Returns a `Verdict`, never raises for bad input.

Two entry points: `validate_block` takes the `.salt`/`.mpt` file bytes (offline fixtures),
`validate_witnesses` takes already decoded witnesses (online: `mega_getBlockWitness`). Both can report
per-stage wall times (seconds) into a `timings` dict, keyed by `STAGES`."""

from __future__ import annotations

import time
from collections.abc import Mapping

from gas.spec import ChainConfig
from megaeth_node.executor.block import InvalidBlock, apply_block
from megaeth_node.executor.state import MissingStateKey
from megaeth_node.executor.witness import WitnessReader
from megaeth_node.types import Block, ChainDataError, Header
from salt.store import WitnessMissingKey, WitnessState
from salt.witness import MptWitness, SaltWitness, WitnessDecodeError, WitnessFile, decode_mpt_witness
from salt.witness import decode_witness_file
from validator.checks import (
    Invalid, Verdict, check_block, check_receipts, check_state_root, check_withdrawals_root, check_witnesses,
    post_state_updates,
)

STAGES = ("integrity", "witness_decode", "witness_verify", "replay", "withdrawals", "receipts", "salt_update")


class _Clock:
    """Adds the time since the previous `lap` to `timings[stage]`."""

    __slots__ = ("timings", "last")

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
        self.last = now


def _check(block: Block, parent: Header, salt: WitnessFile, mpt: MptWitness, codes: Mapping[bytes, bytes],
           chain: ChainConfig, clock: _Clock) -> None:
    check_witnesses(block, parent, salt, mpt)
    clock.lap("witness_verify")
    witness = WitnessState(salt.salt_witness)
    reader = WitnessReader(witness, codes, block.header.number, block.header.parent_hash)
    try:
        result = apply_block(reader, block, chain)
    except (InvalidBlock, MissingStateKey, ChainDataError) as e:
        raise Invalid("replay", detail=str(e)) from e
    updates = post_state_updates(result.state_diff)
    clock.lap("replay")
    check_withdrawals_root(block.header, mpt, result.state_diff)
    clock.lap("withdrawals")
    check_receipts(block.header, result.receipts)
    clock.lap("receipts")
    try:
        root, _ = witness.apply(updates)
    except WitnessMissingKey as e:
        raise Invalid("SALT update", detail=f"the witness does not cover a slot the update needs: {e}") from e
    clock.lap("salt_update")
    check_state_root(block.header, root)


def _verdict(block: Block, start: float, e: Invalid | None) -> Verdict:
    ms = (time.perf_counter() - start) * 1000
    if e is None:
        return Verdict(block.header.number, block.hash, True, ms=ms)
    return Verdict(block.header.number, block.hash, False, e.field, e.expected, e.got, e.detail, ms)


def validate_block(block: Block, parent: Header, salt_bytes: bytes, mpt_bytes: bytes,
                   codes: Mapping[bytes, bytes], chain: ChainConfig,
                   timings: dict[str, float] | None = None) -> Verdict:
    """The verdict for `block` given its trusted parent header, its two witness files and known code."""
    start = time.perf_counter()
    clock = _Clock(timings)
    try:
        check_block(block, parent)
        clock.lap("integrity")
        try:
            salt, mpt = decode_witness_file(salt_bytes), decode_mpt_witness(mpt_bytes)
        except WitnessDecodeError as e:
            raise Invalid("witness encoding", detail=str(e)) from e
        clock.lap("witness_decode")
        _check(block, parent, salt, mpt, codes, chain, clock)
    except Invalid as e:
        return _verdict(block, start, e)
    return _verdict(block, start, None)


def validate_witnesses(block: Block, parent: Header, salt: SaltWitness, mpt: MptWitness,
                       codes: Mapping[bytes, bytes], chain: ChainConfig,
                       timings: dict[str, float] | None = None) -> Verdict:
    """The verdict for `block` given decoded witnesses fetched for exactly this block (number and hash), so
    the witness's parent is the block's parent by request (the RPC form has no parent-hash envelope)."""
    start = time.perf_counter()
    clock = _Clock(timings)
    try:
        check_block(block, parent)
        clock.lap("integrity")
        wf = WitnessFile(bytes(32), block.header.parent_hash, salt)
        _check(block, parent, wf, mpt, codes, chain, clock)
    except Invalid as e:
        return _verdict(block, start, e)
    return _verdict(block, start, None)
