"""Online validation against a local sequencer stand-in serving the real MegaETH fixtures (issue 6): follow
and report, the server going away and coming back, a reorg, a restart resuming from the LMDB checkpoint.

Each test replays only 2-3 real blocks (≈1.5 s of CPU each) on a shared pool of 2 warm workers."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fixture_server.py lives next to the tests
from fixture_server import FixtureServer, Run, chain, forked_block, metric, settings, wait_for

from megaeth_node.cli import main
from validator.checkpoint import Checkpoint
from validator.pool import WorkerPool

TIMEOUT = 150.0


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(2) as p:
        yield p


def _h(block: dict) -> bytes:  # type: ignore[type-arg]
    return bytes.fromhex(block["hash"][2:])


def test_server_away_and_back(testdata: Path, tmp_path: Path, pool: WorkerPool) -> None:
    ch = chain(testdata, tip=1145)
    server = FixtureServer(ch)
    run = Run(settings(server.url, tmp_path / "v", start_block=ch.blocks[1144]["hash"], until_block=1146), pool)
    time.sleep(0.3)  # the validator starts while the sequencer is down: the anchor fetch retries
    server.start()
    try:
        wait_for(lambda: ch.last_validated is not None and ch.last_validated[0] == 1145, TIMEOUT, "block 1145")
        server.stop()
        time.sleep(0.6)  # unreachable: back-off and retry
        ch.tip = 1146
        server.start()  # same port
        assert run.join(TIMEOUT) == 0
    finally:
        run.stop.set()
        server.stop()
    assert ch.last_validated == (1146, ch.blocks[1146]["hash"])
    m = run.metrics
    assert metric(m, "stateless_validator_rpc_errors_total", method="anchor", kind="unavailable") >= 1
    assert metric(m, "stateless_validator_rpc_errors_total", method="fetch", kind="unavailable") >= 1
    assert metric(m, "stateless_validator_blocks_validated_total") == 2
    assert metric(m, "stateless_validator_blocks_invalid_total") == 0
    assert metric(m, "stateless_validator_local_chain_height") == 1146
    assert metric(m, "stateless_validator_stage_seconds_count", stage="replay") == 2
    with Checkpoint(tmp_path / "v") as cp:
        assert cp.tip().hash == _h(ch.blocks[1146])  # type: ignore[union-attr]
        assert cp.anchor() == (1144, _h(ch.blocks[1144]))


def test_reorg_walks_back_and_revalidates(testdata: Path, tmp_path: Path, pool: WorkerPool) -> None:
    ch = chain(testdata, tip=1143)
    sibling = forked_block(ch.blocks[1143])
    ch.fork[1143] = sibling  # the sequencer first shows a sibling of 1143, then the real chain
    with FixtureServer(ch) as server:
        run = Run(settings(server.url, tmp_path / "v", start_block="1142", until_block=1144), pool)
        try:
            wait_for(lambda: ch.last_validated == (1143, sibling["hash"]), TIMEOUT, "the sibling 1143'")
            ch.fork.clear()
            ch.tip = 1144
            assert run.join(TIMEOUT) == 0
        finally:
            run.stop.set()
    assert metric(run.metrics, "stateless_validator_reorgs_total") == 1
    assert metric(run.metrics, "stateless_validator_reorg_depth") == 1
    assert metric(run.metrics, "stateless_validator_blocks_validated_total") == 3  # 1143', 1143, 1144
    assert ch.last_validated == (1144, ch.blocks[1144]["hash"])
    with Checkpoint(tmp_path / "v") as cp:
        assert [cp.get(n).hash for n in (1142, 1143, 1144)] == [_h(ch.blocks[n]) for n in (1142, 1143, 1144)]  # type: ignore[union-attr]


def test_restart_resumes_from_checkpoint(testdata: Path, tmp_path: Path, pool: WorkerPool,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    ch = chain(testdata, tip=1141)
    data = tmp_path / "v"
    with FixtureServer(ch) as server:
        # first run through the CLI: anchor 1139, validate 1140, stop
        status = main(["validate", "--rpc", server.url, "--start-block", ch.blocks[1139]["hash"], "--data-dir",
                       str(data), "--until-block", "1140", "--workers", "2", "--log-json"])
        assert status == 0
        assert '"event": "validated"' in capsys.readouterr().err
        assert ch.last_validated == (1140, ch.blocks[1140]["hash"])
        assert ch.code_requests
        # restart without --start-block: resumes at 1140, validates only 1141; known code comes from the
        # checkpoint, so no code hash is ever requested twice
        run = Run(settings(server.url, data, until_block=1141), pool)
        assert run.join(TIMEOUT) == 0
        assert metric(run.metrics, "stateless_validator_blocks_validated_total") == 1
        assert len(ch.code_requests) == len(set(ch.code_requests))
        assert ch.last_validated == (1141, ch.blocks[1141]["hash"])
        # the same anchor given again resumes too (no reset, nothing to do)
        again = Run(settings(server.url, data, start_block="1139", until_block=1141), pool)
        assert again.join(TIMEOUT) == 0
        assert metric(again.metrics, "stateless_validator_blocks_validated_total") == 0
    with Checkpoint(data) as cp:
        assert cp.anchor() == (1139, _h(ch.blocks[1139]))
        assert cp.tip().number == 1141  # type: ignore[union-attr]
