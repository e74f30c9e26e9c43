"""Validate one block from its witnesses (spec/stateless-validator.md §2.3): witness proof against the parent,
replay over the witness, then every header commitment. Returns a `Verdict`, never raises for bad input.

Two entry points: `validate_block` takes the `.salt`/`.mpt` file bytes (offline fixtures),
`validate_witnesses` takes already decoded witnesses (online: `mega_getBlockWitness`). Both can report
per-stage wall times (seconds) into a `timings` dict, keyed by `STAGES`. Given a `validator.checker.Checker`,
the checks before the replay run on its process while this one replays, and the SALT update while this one
checks withdrawals and receipts (those stage times are then the checker's, and overlap this process's)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from gas.spec import ChainConfig
from megaeth_node.executor.block import BlockResult, InvalidBlock, apply_block
from megaeth_node.executor.state import MissingStateKey
from megaeth_node.executor.witness import WitnessReader
from megaeth_node.types import Block, ChainDataError, Header
from salt.store import WitnessState
from salt.witness import MptWitness, SaltWitness, WitnessDecodeError, WitnessFile, decode_mpt_witness
from salt.witness import decode_witness_file
from validator.checks import (
    Invalid, Verdict, check_block, check_receipts, check_state_root, check_withdrawals_root, check_witnesses,
    post_state_root, post_state_updates,
)

if TYPE_CHECKING:
    from validator.checker import Checker

STAGES = ("integrity", "witness_decode", "witness_verify", "replay", "withdrawals", "receipts", "salt_update")


class StageClock:
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

    def restart(self) -> None:
        """Count the time since the previous `lap` in no stage (a stage another process timed)."""
        self.last = time.perf_counter()


def _decode(block: Block, salt: bytes | SaltWitness, mpt: bytes | MptWitness) -> tuple[WitnessFile, MptWitness]:
    """The witnesses as the checks take them: `.salt`/`.mpt` file bytes, decoded, or witnesses decoded from
    `mega_getBlockWitness`, fetched for exactly this block, whose parent is the block's parent by request (the
    RPC form has no parent-hash envelope)."""
    if isinstance(salt, SaltWitness) and isinstance(mpt, MptWitness):
        return WitnessFile(bytes(32), block.header.parent_hash, salt), mpt
    try:
        return decode_witness_file(salt), decode_mpt_witness(mpt)  # type: ignore[arg-type]
    except WitnessDecodeError as e:
        raise Invalid("witness encoding", detail=str(e)) from e


def early_checks(block: Block, parent: Header, salt: bytes | SaltWitness, mpt: bytes | MptWitness,
                 clock: StageClock) -> tuple[WitnessFile, MptWitness]:
    """The checks that come before the replay and need nothing from it (§2.2, §2.3 steps 1–2): integrity and
    the parent link, the witness encoding, the witness proofs. Returns the decoded witnesses."""
    check_block(block, parent)
    clock.lap("integrity")
    salt_file, mpt_witness = _decode(block, salt, mpt)
    clock.lap("witness_decode")
    check_witnesses(block, parent, salt_file, mpt_witness)
    clock.lap("witness_verify")
    return salt_file, mpt_witness


def _replay(block: Block, salt: WitnessFile, codes: Mapping[bytes, bytes],
            chain: ChainConfig) -> tuple[WitnessState, BlockResult]:
    witness = WitnessState(salt.salt_witness)
    reader = WitnessReader(witness, codes, block.header.number, block.header.parent_hash)
    try:
        return witness, apply_block(reader, block, chain)
    except (InvalidBlock, MissingStateKey, ChainDataError) as e:
        raise Invalid("replay", detail=str(e)) from e


def _replay_beside(checker: Checker, block: Block, parent: Header, salt: bytes | SaltWitness,
                   mpt: bytes | MptWitness, codes: Mapping[bytes, bytes], chain: ChainConfig,
                   clock: StageClock) -> tuple[WitnessState, BlockResult, MptWitness]:
    """The replay while `checker` runs `early_checks`. Their failure is reported first, as it precedes the
    replay's, and a replay over a witness they reject may fail in any way."""
    checker.start(block, parent, salt, mpt)
    try:
        salt_file, mpt_witness = _decode(block, salt, mpt)
        clock.lap("witness_decode")
        witness, result = _replay(block, salt_file, codes, chain)
    except Exception:
        checker.finish(clock.timings)
        raise
    checker.finish(clock.timings)
    return witness, result, mpt_witness


def _after_replay(block: Block, mpt: MptWitness, witness: WitnessState, result: BlockResult, clock: StageClock,
                  checker: Checker | None) -> None:
    """The header commitments from the replay's results (§2.3 steps 5–9); with a `checker`, the SALT update
    runs on its process while this one checks withdrawals and receipts (their failures still come first)."""
    updates = post_state_updates(result.state_diff, witness)
    clock.lap("replay")
    if checker is not None:
        checker.start_post(witness, updates)
    try:
        check_withdrawals_root(block.header, mpt, result.state_diff)
        clock.lap("withdrawals")
        check_receipts(block.header, result.receipts, result.logs_bloom)
        clock.lap("receipts")
    except Invalid:
        if checker is not None:
            checker.drop_post()
        raise
    if checker is None:
        root = post_state_root(witness, updates)
        clock.lap("salt_update")
    else:
        root = checker.finish_post(clock.timings)
        clock.restart()
    check_state_root(block.header, root)


def _verdict(block: Block, start: float, e: Invalid | None) -> Verdict:
    ms = (time.perf_counter() - start) * 1000
    if e is None:
        return Verdict(block.header.number, block.hash, True, ms=ms)
    return Verdict(block.header.number, block.hash, False, e.field, e.expected, e.got, e.detail, ms)


def _validate(block: Block, parent: Header, salt: bytes | SaltWitness, mpt: bytes | MptWitness,
              codes: Mapping[bytes, bytes], chain: ChainConfig, timings: dict[str, float] | None,
              checker: Checker | None) -> Verdict:
    start = time.perf_counter()
    clock = StageClock(timings)
    try:
        if checker is None:
            salt_file, mpt_witness = early_checks(block, parent, salt, mpt, clock)
            witness, result = _replay(block, salt_file, codes, chain)
        else:
            witness, result, mpt_witness = _replay_beside(checker, block, parent, salt, mpt, codes, chain, clock)
        _after_replay(block, mpt_witness, witness, result, clock, checker)
    except Invalid as e:
        return _verdict(block, start, e)
    return _verdict(block, start, None)


def validate_block(block: Block, parent: Header, salt_bytes: bytes, mpt_bytes: bytes,
                   codes: Mapping[bytes, bytes], chain: ChainConfig,
                   timings: dict[str, float] | None = None, checker: Checker | None = None) -> Verdict:
    """The verdict for `block` given its trusted parent header, its two witness files and known code; with a
    `checker`, the checks before the replay run on its process meanwhile."""
    return _validate(block, parent, salt_bytes, mpt_bytes, codes, chain, timings, checker)


def validate_witnesses(block: Block, parent: Header, salt: SaltWitness, mpt: MptWitness,
                       codes: Mapping[bytes, bytes], chain: ChainConfig,
                       timings: dict[str, float] | None = None, checker: Checker | None = None) -> Verdict:
    """The verdict for `block` given decoded witnesses fetched for exactly this block (number and hash)."""
    return _validate(block, parent, salt, mpt, codes, chain, timings, checker)
