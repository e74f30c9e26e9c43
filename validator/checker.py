"""The checks before the replay, on a process of their own (spec/stateless-validator.md §2.3 steps 1–2).

Block integrity (header and transaction hashes, signers, transactions root, parent link) and the witness
proofs need nothing from the replay, and the replay needs only the decoded witness. A validator with a core to
spare (one worker process on two cores, `spare_cores`) runs them on a checker process while it replays:
~18 ms of a ~70–100 ms block leave the critical path (signature recovery and the witness checks are CPU work
that threads would serialise on the GIL). Their verdict still comes first (`validator.core`). The checker
sends back the witness's decoded commitments, which the SALT update needs, so they are not decompressed twice.

A checker is forked from a warm process (SALT tables built, py-evm loaded) and serves one block at a time
over a pipe; it exits when the pipe closes. Should it die, the block in flight and every later one are
checked in the calling process."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from megaeth_node.types import Block, Header
from salt.multiproof import decode_points, remember_points
from salt.witness import MptWitness, SaltWitness
from validator.checks import Invalid
from validator.core import StageClock, early_checks


def spare_cores(workers: int) -> bool:
    """Whether `workers` validating processes leave a core each for a checker (forked: Linux and macOS)."""
    return 2 * max(1, workers) <= (os.cpu_count() or 1) and "fork" in multiprocessing.get_all_start_methods()


def _serve(conn: Any, parent_end: Any) -> None:
    """Checker side: `early_checks` for each job; replies (error, stage times, (compressed commitments, their
    `decode_points`)). An unexpected exception is not a verdict: "redo" asks the caller to run the checks."""
    parent_end.close()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        timings: dict[str, float] = {}
        try:
            salt, _ = early_checks(*job, StageClock(timings))
            compressed = list(salt.salt_witness.proof.parents_commitments.values())
            reply: tuple[Any, ...] = (None, timings, (compressed, decode_points(compressed)))
        except Invalid as e:
            reply = ((e.field, e.expected, e.got, e.detail), timings, None)
        except Exception:  # noqa: BLE001 - the caller runs the checks itself and meets the error there
            reply = ("redo", timings, None)
        try:
            conn.send(reply)
        except (OSError, ValueError):  # the caller is gone
            return


class Checker:
    """A forked process running `early_checks` for the block this process is replaying."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, self._conn), name="validator-checker", daemon=True)
        self._process.start()
        child.close()
        self.alive = True
        self._job: tuple[Block, Header, bytes | SaltWitness, bytes | MptWitness] | None = None

    def start(self, block: Block, parent: Header, salt: bytes | SaltWitness, mpt: bytes | MptWitness) -> None:
        """Send the block's early checks to the checker."""
        if self._job is not None and self.alive:  # an interrupted caller never took the last reply: stop here
            self.close()
        self._job = (block, parent, salt, mpt)
        if self.alive:
            try:
                self._conn.send(self._job)
            except (OSError, ValueError):
                self.alive = False

    def finish(self, timings: dict[str, float] | None) -> None:
        """Wait for the checks `start` sent: raise their `Invalid`, or keep the decoded commitments in this
        process's point cache. Without a live checker, run them here."""
        job = self._job
        assert job is not None, "finish() without start()"
        if self.alive:
            try:
                error, their_timings, points = self._conn.recv()
            except (EOFError, OSError):
                self.alive = False
            else:
                self._job = None  # taken (an interrupt in `recv` leaves it set: see `start`)
                if error != "redo":
                    if timings is not None:
                        for stage, seconds in their_timings.items():
                            timings[stage] = timings.get(stage, 0.0) + seconds
                    if error is not None:
                        raise Invalid(*error)
                    remember_points(*points)
                    return
        self._job = None
        early_checks(*job, StageClock(timings))

    def close(self) -> None:
        """Stop the checker process; checks run in the calling process from now on."""
        self.alive = False
        self._conn.close()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


_PROCESS_CHECKER: Checker | None = None


def start_process_checker() -> None:
    """Give this process a checker (`process_checker`), unless it has a live one."""
    global _PROCESS_CHECKER
    if _PROCESS_CHECKER is None or not _PROCESS_CHECKER.alive:
        _PROCESS_CHECKER = Checker()


def process_checker() -> Checker | None:
    """This process's checker, if it was given one."""
    return _PROCESS_CHECKER


def stop_process_checker() -> None:
    """Stop this process's checker, if it has one."""
    global _PROCESS_CHECKER
    if _PROCESS_CHECKER is not None:
        _PROCESS_CHECKER.close()
        _PROCESS_CHECKER = None
