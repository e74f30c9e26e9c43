"""Validator work beside the replay, on a process of their own (spec/stateless-validator.md §2.3 steps 1–2, 6).

Block integrity (header and transaction hashes, signers, transactions root, parent link) and the witness
proofs need nothing from the replay, and the replay needs only the decoded witness. A validator with a core to
spare (one worker process on two cores, `spare_cores`) runs them on a checker process while it replays:
~18 ms of a ~70–100 ms block leave the critical path (signature recovery and the witness checks are CPU work
that threads would serialise on the GIL). After the replay, the checker computes the post-state SALT root from
the state updates, over the witness it decoded, while the caller checks the withdrawals and receipts roots.
Verdicts keep their order (`validator.core`).

A checker is forked from a warm process (SALT tables built, py-evm loaded) and serves one job at a time
over a pipe; it exits when the pipe closes. Should it die, or not answer within `REPLY_TIMEOUT_S` (then it is
stopped), the job in flight and every later one are done in the calling process."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

from megaeth_node.types import Block, Header
from salt.store import WitnessState
from salt.witness import MptWitness, SaltWitness
from validator.checks import Invalid, post_state_root
from validator.core import StageClock, early_checks

REPLY_TIMEOUT_S = 60.0  # a checker job takes ~20 ms; one that has not answered by then is stuck (stopped, hung)


def spare_cores(workers: int) -> bool:
    """Whether `workers` validating processes leave a core each for a checker (forked: Linux and macOS)."""
    return 2 * max(1, workers) <= (os.cpu_count() or 1) and "fork" in multiprocessing.get_all_start_methods()


def _serve(conn: Any, parent_end: Any) -> None:
    """Checker side. A job is ("early", block, parent, salt, mpt): `early_checks`; or ("post", updates): the
    SALT root after `updates` over the witness the last early job checked, whose SALT view (commitments
    decoded) is made after that job's reply, while the caller replays. Replies (error, stage times, result);
    an unexpected exception is not a verdict: "redo" asks the caller to do the job itself."""
    parent_end.close()
    witness: SaltWitness | None = None
    state: WitnessState | None = None
    while True:
        try:
            kind, *job = conn.recv()
        except (EOFError, OSError):
            return
        timings: dict[str, float] = {}
        result = None
        try:
            if kind == "early":
                witness = state = None
                witness = early_checks(*job, StageClock(timings))[0].salt_witness
            elif state is None:
                raise LookupError("no witness checked for this SALT update")
            else:
                clock = StageClock(timings)
                result = post_state_root(state, job[0])
                clock.lap("salt_update")
                state = None
            reply: tuple[Any, ...] = (None, timings, result)
        except Invalid as e:
            reply = ((e.field, e.expected, e.got, e.detail), timings, None)
        except Exception:  # noqa: BLE001 - the caller does the job itself and meets the error there
            reply = ("redo", timings, None)
        try:
            conn.send(reply)
        except (OSError, ValueError):  # the caller is gone
            return
        if witness is not None:
            try:
                state = WitnessState(witness)
                state.commitments  # noqa: B018 - decoded now, off the caller's path
            except Exception:  # noqa: BLE001 - the SALT update will be redone by the caller
                state = None
            witness = None


class Checker:
    """A forked process running `early_checks` for the block this process is replaying, then its SALT update
    while this process checks the other commitments."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, self._conn), name="validator-checker", daemon=True)
        self._process.start()
        child.close()
        self.owner = os.getpid()  # the one process that may use the pipe (a fork inherits the object, not the right)
        self.alive = True
        self._job: tuple[Any, ...] | None = None  # the job sent and not yet answered, to do here if need be
        self._witness: WitnessState | None = None  # this process's, for a SALT update done here

    def _send(self, job: tuple[Any, ...]) -> None:
        if self._job is not None and self.alive:  # an interrupted caller never took the last reply: stop here
            self.close()
        self._job = job
        if self.alive:
            try:
                self._conn.send(job)
            except (OSError, ValueError):
                self.alive = False

    def _reply(self, timings: dict[str, float] | None) -> tuple[Any, ...] | None:
        """The reply to the job in flight, its stage times added to `timings`; None to do the job here (no
        live checker, or "redo"). Raises the job's `Invalid`."""
        if not self.alive:
            return None
        try:
            if not self._conn.poll(REPLY_TIMEOUT_S):  # stuck: stop it, the job is done here
                self._process.kill()
                self.close()
                return None
            error, their_timings, result = self._conn.recv()
        except (EOFError, OSError):
            self.alive = False
            return None
        self._job = None  # taken (an interrupt in `recv` leaves it set: see `_send`)
        if error == "redo":
            return None
        if timings is not None:
            for stage, seconds in their_timings.items():
                timings[stage] = timings.get(stage, 0.0) + seconds
        if error is not None:
            raise Invalid(*error)
        return (result,)

    def start(self, block: Block, parent: Header, salt: bytes | SaltWitness, mpt: bytes | MptWitness) -> None:
        """Send the block's early checks to the checker."""
        self._send(("early", block, parent, salt, mpt))

    def finish(self, timings: dict[str, float] | None) -> None:
        """Wait for the checks `start` sent and raise their `Invalid`; without a live checker, run them here."""
        job = self._job
        assert job is not None and job[0] == "early", "finish() without start()"
        if self._reply(timings) is None:
            self._job = None
            early_checks(*job[1:], StageClock(timings))

    def start_post(self, witness: WitnessState, updates: dict[bytes, bytes | None]) -> None:
        """Send the block's SALT update (after `finish`); `witness` is this process's, for doing it here."""
        self._send(("post", updates))
        self._witness = witness

    def finish_post(self, timings: dict[str, float] | None) -> bytes:
        """The post-state SALT root `start_post` asked for (raises its `Invalid`); done here without a live
        checker."""
        job, witness = self._job, self._witness
        assert job is not None and job[0] == "post" and witness is not None, "finish_post() without start_post()"
        self._witness = None
        reply = self._reply(timings)
        if reply is not None:
            return reply[0]  # type: ignore[no-any-return]
        self._job = None
        clock = StageClock(timings)
        root = post_state_root(witness, job[1])
        clock.lap("salt_update")
        return root

    def drop_post(self) -> None:
        """Wait for the SALT update `start_post` sent and forget it (the block failed an earlier check)."""
        self._witness = None
        try:
            self._reply(None)
        except Invalid:
            pass
        self._job = None

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
    checker = process_checker()
    if checker is None or not checker.alive:
        _PROCESS_CHECKER = Checker()


def process_checker() -> Checker | None:
    """This process's checker, if it was given one. One inherited through a fork is the parent's: a child using
    its pipe too would cross their jobs and replies."""
    checker = _PROCESS_CHECKER
    return checker if checker is not None and checker.owner == os.getpid() else None


def stop_process_checker() -> None:
    """Stop this process's checker, if it has one (an inherited one is only forgotten)."""
    global _PROCESS_CHECKER
    checker = process_checker()
    if checker is not None:
        checker.close()
    _PROCESS_CHECKER = None
