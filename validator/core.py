"""Validate one block from its witnesses (spec/stateless-validator.md §2.3): witness proof against the parent,
replay over the witness, then every header commitment. Returns a `Verdict`, never raises for bad input.

Two entry points: `validate_block` takes the `.salt`/`.mpt` file bytes (offline fixtures),
`validate_witnesses` takes already decoded witnesses (online: `mega_getBlockWitness`). Both can report
per-stage wall times (seconds) into a `timings` dict, keyed by `STAGES`. With a spare core, integrity and
witness verification run on a second thread while the replay runs (their stage times overlap it;
`checks_wait` is how long the replay then waited for them)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

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

STAGES = ("integrity", "witness_decode", "witness_verify", "replay", "checks_wait", "withdrawals", "receipts",
          "salt_update")


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


class _Beside:
    """Runs `fn(*args)` on a second thread when a core is spare (`result()` joins it and re-raises its error),
    else at once on this thread."""

    __slots__ = ("fn", "args", "error", "thread")

    def __init__(self, fn: Callable[..., None], *args: object) -> None:
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if not _overlap:
            fn(*args)
            return
        self.fn, self.args = fn, args
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.fn(*self.args)
        except BaseException as e:  # noqa: BLE001 - re-raised by result() on the caller's thread
            self.error = e

    def result(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error


_overlap = (os.cpu_count() or 1) > 1


def overlap_checks(on: bool) -> None:
    """Whether integrity and witness verification run on a second thread beside the replay (a pool worker
    with one core of its own runs them in line)."""
    global _overlap
    _overlap = on


def _proofs(block: Block, parent: Header, salt: WitnessFile, mpt: MptWitness,
            timings: dict[str, float] | None) -> None:
    """The checks that precede the replay: integrity (§2.2), then the witnesses against the parent (§2.3 step 2)."""
    clock = _Clock(timings)
    check_block(block, parent)
    clock.lap("integrity")
    check_witnesses(block, parent, salt, mpt)
    clock.lap("witness_verify")


def _check(block: Block, parent: Header, salt: WitnessFile, mpt: MptWitness, codes: Mapping[bytes, bytes],
           chain: ChainConfig, clock: _Clock) -> None:
    """Integrity and witness checks beside the replay, which reads only the block and the witness; a failure
    of the former is reported first, as if they had run before (any replay error on such input is moot)."""
    proofs = _Beside(_proofs, block, parent, salt, mpt, clock.timings)
    try:
        witness = WitnessState(salt.salt_witness)
        reader = WitnessReader(witness, codes, block.header.number, block.header.parent_hash)
        try:
            result = apply_block(reader, block, chain)
        except (InvalidBlock, MissingStateKey, ChainDataError) as e:
            raise Invalid("replay", detail=str(e)) from e
    except BaseException:
        proofs.result()
        raise
    clock.lap("replay")
    proofs.result()
    clock.lap("checks_wait")
    updates = post_state_updates(result.state_diff)
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
        try:
            salt, mpt = decode_witness_file(salt_bytes), decode_mpt_witness(mpt_bytes)
        except WitnessDecodeError as e:
            check_block(block, parent)  # an integrity failure is reported first
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
        wf = WitnessFile(bytes(32), block.header.parent_hash, salt)
        _check(block, parent, wf, mpt, codes, chain, clock)
    except Invalid as e:
        return _verdict(block, start, e)
    return _verdict(block, start, None)
