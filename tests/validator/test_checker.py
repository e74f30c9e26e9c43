"""The checker process (validator.checker): the checks before the replay beside it, with the serial path's
verdicts, their precedence, and the serial path again when the checker fails or dies."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gas.spec import TESTNET
from salt import multiproof
from salt.witness import decode_mpt_witness, decode_witness_file
from validator import checker as checker_module
from validator import core
from validator.checker import Checker, process_checker, spare_cores
from validator.checks import Verdict
from validator.core import validate_block, validate_witnesses
from validator.offline import validate_fixtures
from validator.pool import WorkerPool, warm

sys.path.insert(0, str(Path(__file__).parent))  # tampering.py lives next to the tests
from tampering import HEADER_FIELDS, KINDS, codes, material, tampered


@cache
def _shared_checker() -> Checker:
    warm()
    return Checker()


@pytest.fixture
def checker() -> Iterator[Checker]:
    warm()
    c = Checker()
    yield c
    c.close()


def _fields(v: Verdict) -> tuple[object, ...]:
    return (v.valid, v.field, v.expected, v.got, v.detail)


def test_every_block_is_valid_with_a_checker_that_decodes_its_points_and_updates_salt(
        checker: Checker, monkeypatch: pytest.MonkeyPatch) -> None:
    be = multiproof.backend()
    decompressed: list[int] = []
    real = be.decompress_many
    monkeypatch.setattr(be, "decompress_many", lambda points: decompressed.append(len(points)) or real(points))
    monkeypatch.setattr(core, "post_state_root", _not_here)
    monkeypatch.setattr(checker_module, "post_state_root", _not_here)  # the checker was forked before
    multiproof.clear_point_cache()
    for i in range(1, 17):
        parent, block, salt, mpt = material(i)
        timings: dict[str, float] = {}
        verdict = validate_block(block, parent.header, salt, mpt, codes(), TESTNET, timings, checker)
        assert verdict.valid, verdict
        assert {"integrity", "witness_verify", "replay", "salt_update"} <= timings.keys()
    assert checker.alive
    assert decompressed == []  # no commitment was decoded here


def _not_here(*args: object) -> bytes:
    raise AssertionError("the SALT update ran in the calling process")


@settings(max_examples=40 if os.environ.get("CI") else 12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(i=st.integers(1, 16), kind=st.sampled_from(KINDS), field=st.sampled_from(HEADER_FIELDS),
       pos=st.integers(0, 10**9), bit=st.integers(0, 7))
def test_a_checker_gives_the_serial_verdict_on_tampered_blocks(i: int, kind: str, field: str, pos: int,
                                                              bit: int) -> None:
    block, parent, salt, mpt = tampered(i, kind, field, pos, bit)
    serial = validate_block(block, parent, salt, mpt, codes(), TESTNET)
    beside = validate_block(block, parent, salt, mpt, codes(), TESTNET, checker=_shared_checker())
    assert not serial.valid
    assert _fields(beside) == _fields(serial)


def test_a_bad_witness_wins_over_the_replay_it_breaks(checker: Checker) -> None:
    """A witness value changed after its proof was made: the replay may fail too, the witness is reported."""
    parent, block, salt, mpt = material(3)
    for k in range(80, len(salt), max(1, (len(salt) - 80) // 12)):
        bad = salt[:k] + bytes([salt[k] ^ 0x10]) + salt[k + 1:]
        verdict = validate_block(block, parent.header, bad, mpt, codes(), TESTNET, checker=checker)
        assert not verdict.valid and verdict.field in ("SALT witness", "witness encoding"), (k, verdict)


def test_a_dead_checker_leaves_the_checks_to_the_caller(checker: Checker) -> None:
    parent, block, salt, mpt = material(2)
    checker._process.kill()
    checker._process.join()
    verdict = validate_block(block, parent.header, salt, mpt, codes(), TESTNET, checker=checker)
    assert verdict.valid and not checker.alive
    bad = replace(block, senders=(bytes(20), *block.senders[1:]))
    verdict = validate_block(bad, parent.header, salt, mpt, codes(), TESTNET, checker=checker)
    assert not verdict.valid and verdict.field == "block integrity"


def test_a_stuck_checker_is_stopped_and_its_job_done_here(checker: Checker,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A checker that stops answering (here: stopped by a signal) does not hang the validator: past the reply
    timeout it is killed, and its job and every later one run in the caller."""
    monkeypatch.setattr(checker_module, "REPLY_TIMEOUT_S", 0.5)
    os.kill(checker._process.pid, signal.SIGSTOP)  # type: ignore[arg-type]
    parent, block, salt, mpt = material(2)
    verdict = validate_block(block, parent.header, salt, mpt, codes(), TESTNET, checker=checker)
    assert verdict.valid and not checker.alive and not checker._process.is_alive()
    bad = replace(block, senders=(bytes(20), *block.senders[1:]))
    verdict = validate_block(bad, parent.header, salt, mpt, codes(), TESTNET, checker=checker)
    assert not verdict.valid and verdict.field == "block integrity"


def test_a_reply_nobody_took_stops_the_checker(checker: Checker) -> None:
    """A caller interrupted between start and finish: the next block is checked here, never by a stale reply."""
    parent, block, salt, mpt = material(2)
    checker.start(block, parent.header, salt, mpt)  # never finished
    bad = replace(block, senders=(bytes(20), *block.senders[1:]))
    verdict = validate_block(bad, parent.header, salt, mpt, codes(), TESTNET, checker=checker)
    assert not verdict.valid and verdict.field == "block integrity" and not checker.alive


def test_a_checker_that_dies_before_the_salt_update_leaves_it_to_the_caller(
        checker: Checker, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Checker.start_post

    def kill_first(self: Checker, *args: object) -> None:
        self._process.kill()
        self._process.join()
        real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Checker, "start_post", kill_first)
    parent, block, salt, mpt = material(5)
    verdict = validate_block(block, parent.header, salt, mpt, codes(), TESTNET, checker=checker)
    assert verdict.valid and not checker.alive


@pytest.mark.parametrize("job", ["early_checks", "post_state_root"])
def test_an_error_in_the_checker_is_met_in_the_caller(job: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the checker's early checks or SALT update: the caller does that job, the checker lives on."""
    real, caller = getattr(checker_module, job), os.getpid()

    def fails_in_the_checker(*args: object) -> object:
        if os.getpid() != caller:
            raise RuntimeError(f"a bug in {job}")
        return real(*args)

    monkeypatch.setattr(checker_module, job, fails_in_the_checker)
    warm()
    c = Checker()
    try:
        for i in (6, 7):
            parent, block, salt, mpt = material(i)
            assert validate_block(block, parent.header, salt, mpt, codes(), TESTNET, checker=c).valid
        assert c.alive
    finally:
        c.close()


def test_a_receipts_failure_beats_the_salt_update_and_keeps_the_checker_in_step(checker: Checker) -> None:
    """The SALT update sent before the receipts check fails is taken and dropped: the next block gets its own."""
    block, parent, salt, mpt = tampered(8, "header", "receipts_root", 0, 0)
    verdict = validate_block(block, parent, salt, mpt, codes(), TESTNET, checker=checker)
    assert not verdict.valid and verdict.field == "receiptsRoot"
    block, parent, salt, mpt = tampered(8, "header", "state_root", 0, 0)
    verdict = validate_block(block, parent, salt, mpt, codes(), TESTNET, checker=checker)
    assert not verdict.valid and verdict.field == "stateRoot"
    parent_block, block, salt, mpt = material(9)
    assert validate_block(block, parent_block.header, salt, mpt, codes(), TESTNET, checker=checker).valid
    assert checker.alive


def test_decoded_rpc_witnesses_go_through_the_checker(checker: Checker) -> None:
    parent, block, salt, mpt = material(4)
    witness = decode_witness_file(salt).salt_witness
    verdict = validate_witnesses(block, parent.header, witness, decode_mpt_witness(mpt), codes(), TESTNET,
                                 checker=checker)
    assert verdict.valid, verdict


def test_an_inline_pool_has_a_checker_while_it_is_open(testdata: Path) -> None:
    assert process_checker() is None
    with WorkerPool(1, checkers=True):
        assert process_checker() is not None and process_checker().alive  # type: ignore[union-attr]
    assert process_checker() is None
    verdicts = list(validate_fixtures(testdata, workers=1))
    assert len(verdicts) == 16 and all(v.valid for v in verdicts)


def test_spare_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert spare_cores(1) and not spare_cores(2)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert not spare_cores(1)


def _has_process_checker() -> bool:
    return process_checker() is not None


def test_forked_workers_do_not_inherit_the_parents_checker() -> None:
    """A pool forked while this process has a checker: its workers must not use the parent's (one pipe, two
    users: jobs and replies cross); without checkers of their own they have none."""
    checker_module.start_process_checker()
    try:
        with WorkerPool(2) as pool:
            assert [pool.submit(_has_process_checker).result() for _ in range(4)] == [False] * 4
    finally:
        checker_module.stop_process_checker()


def test_resplit_witness_entry_is_invalid_with_and_without_a_checker(checker: Checker) -> None:
    """A witness entry whose bytes move between key and value still hashes the same (the proof holds), and
    read as data it is an account or BucketMeta that does not decode: reported invalid at the witness, never
    valid and never a crash, whether the replay runs after the checks or beside them."""
    from salt.types import SaltValue
    from salt.witness import encode_witness_file

    parent, block, salt, mpt = material(3)
    wf = decode_witness_file(salt)
    w = wf.salt_witness
    for key, sv in w.kvs.items():
        if sv is not None and len(sv.key) == 20:
            moved = SaltValue(sv.key[:19], sv.key[19:] + sv.value)
            break
    bad = encode_witness_file(replace(wf, salt_witness=replace(w, kvs={**w.kvs, key: moved})))
    for c in (None, checker):
        v = validate_block(block, parent.header, bad, mpt, codes(), TESTNET, checker=c)
        assert not v.valid and v.field == "SALT witness" and "bad entry" in v.detail, v
