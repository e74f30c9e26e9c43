"""Offline validation of the real MegaETH blocks, and tampering that must always be reported invalid."""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gas.spec import TESTNET
from megaeth_node.fixtures import fixture_blocks
from validator.core import validate_block
from validator.offline import run_offline, validate_fixtures
from validator.pool import WorkerPool

sys.path.insert(0, str(Path(__file__).parent))  # tampering.py lives next to the tests
from tampering import HEADER_FIELDS, KINDS, codes, material, tampered


def test_every_fixture_block_is_valid(testdata: Path) -> None:
    verdicts = list(validate_fixtures(testdata, workers=2))
    assert len(verdicts) == len(fixture_blocks(testdata)) - 1
    bad = [(v.number, v.field, v.detail or f"{v.expected} != {v.got}") for v in verdicts if not v.valid]
    assert bad == []


def test_cli_json_output(testdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small = tmp_path / "fx"
    (small / "blocks").mkdir(parents=True)
    (small / "stateless" / "witness").mkdir(parents=True)
    for fb in fixture_blocks(testdata)[:3]:
        (small / "blocks" / fb.block_path.name).write_bytes(fb.block_path.read_bytes())
        for p in (fb.salt_path, fb.mpt_path):
            if p:
                (small / "stateless" / "witness" / p.name).write_bytes(p.read_bytes())
    (small / "contracts.txt").write_bytes((testdata / "contracts.txt").read_bytes())
    status = run_offline(small, workers=1, as_json=True)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["block"] for x in lines] == [fb.number for fb in fixture_blocks(testdata)[1:3]]
    assert status == (0 if all(x["valid"] for x in lines) else 1)


@settings(max_examples=100 if os.environ.get("CI") else 25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(i=st.integers(1, 16), kind=st.sampled_from(KINDS), field=st.sampled_from(HEADER_FIELDS),
       pos=st.integers(0, 10**9), bit=st.integers(0, 7))
def test_tampering_is_always_invalid(i: int, kind: str, field: str, pos: int, bit: int) -> None:
    block, parent, salt, mpt = tampered(i, kind, field, pos, bit)
    verdict = validate_block(block, parent, salt, mpt, codes(), TESTNET)
    assert not verdict.valid and verdict.field, verdict


@pytest.mark.parametrize("threads", ["1", "2"])  # SALT C threads: a pool worker's share, or both cores
def test_a_bad_salt_witness_is_the_reported_failure(threads: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEGAETH_SALT_THREADS", threads)
    parent, block, salt, mpt = material(3)
    for k in range(80, len(salt), max(1, (len(salt) - 80) // 12)):
        bad = salt[:k] + bytes([salt[k] ^ 0x10]) + salt[k + 1:]
        verdict = validate_block(block, parent.header, bad, mpt, codes(), TESTNET)
        assert not verdict.valid and verdict.field in ("SALT witness", "witness encoding"), (k, verdict)


def _salt_threads() -> str:
    return os.environ.get("MEGAETH_SALT_THREADS", "")


def test_pool_workers_share_the_cores() -> None:
    with WorkerPool(2) as pool:
        shares = {pool.submit(_salt_threads).result() for _ in range(4)}
    assert shares == {str(max(1, (os.cpu_count() or 1) // 2))}


_WARMED: list[int] = []


def _warm_job(tag: int) -> None:
    _WARMED.append(tag)


def _warmed() -> tuple[int, list[int]]:
    return os.getpid(), list(_WARMED)


def test_pool_workers_run_the_warmup_once_before_their_jobs() -> None:
    with WorkerPool(2, warmup=(_warm_job, (7,))) as pool:
        seen = dict(pool.submit(_warmed).result() for _ in range(8))
    assert seen and all(w == [7] for w in seen.values()) and os.getpid() not in seen
    assert _WARMED == []  # not in this process


def _frames_below() -> int:
    return len(inspect.stack(0)) - 1


class _Nested:
    """Recursion through a C slot (`__call__`), as py-evm's nested calls recurse: each level uses C stack."""

    def __call__(self, n: int) -> int:
        return self(n - 1) + 1 if n else 0


def test_pool_jobs_start_on_a_fresh_frame_stack() -> None:
    """A worker's jobs run on its job thread, a few frames above an empty stack, not inside the frames of the
    fork (see validator.pool: frame-chunk churn), on a C stack deeper than a default 2 MiB thread stack (which
    overflows before 12,000 levels); their errors still reach the caller."""
    with WorkerPool(2) as pool:
        assert pool.submit(_frames_below).result() <= 6
        assert pool.submit(_Nested(), 12_000).result() == 12_000
        with pytest.raises(ValueError):
            pool.submit(int, "not a number").result()
