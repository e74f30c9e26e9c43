"""Replay of the real MegaETH fixture blocks through the CLI (gas matches only once the Rex rules land)."""

from __future__ import annotations

from pathlib import Path

import pytest

from megaeth_node.cli import main
from megaeth_node.executor.replay import load_contracts
from megaeth_node.types import keccak256


def test_contracts_hash_to_their_keys(testdata: Path) -> None:
    codes = load_contracts(testdata / "contracts.txt")
    assert len(codes) == 36 and all(keccak256(code) == h for h, code in codes.items())


def test_replay_cli_prints_per_tx_and_block_lines(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["replay", "--fixtures", str(testdata), "--block", "1140"])
    out = capsys.readouterr().out
    assert "  tx   0 type 0x7e status 1" in out
    assert "block 1140: gasUsed" in out and "logsBloom ok" in out


def test_replay_tx_prints_only_that_line(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--fixtures", str(testdata), "--block", "1140", "--tx", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("  tx   3 ") and lines[1].startswith("block 1140:")


def test_trace_is_one_json_line_per_opcode_and_changes_nothing(testdata: Path) -> None:
    """The traced tx runs the reference loop (one opcode at a time): its block replays exactly as untraced,
    and consecutive opcodes of the tx's frame chain their gas (`gas − gasCost` = next `gas`)."""
    import io
    import json

    from megaeth_node.executor.replay import replay

    trace = io.StringIO()
    (traced,) = replay(testdata, 1143, tx_index=10, trace=trace)
    (plain,) = replay(testdata, 1143)
    assert traced.result == plain.result and traced.gas_diff == 0
    lines = [json.loads(line) for line in trace.getvalue().splitlines()]
    assert lines[0]["pc"] == 0 and lines[0]["depth"] == 1 and {line["depth"] for line in lines} >= {1, 2}
    assert any(line["opName"] == "DELEGATECALL" for line in lines)
    top = [line for line in lines if line["depth"] == 1]
    assert all(int(a["gas"], 16) - int(a["gasCost"], 16) == int(b["gas"], 16) for a, b in zip(top, top[1:]))
    # positions: the next opcode follows the previous one and its PUSH data, unless it was a jump
    pushes = [(a, b) for a, b in zip(top, top[1:]) if 0x60 <= a["op"] <= 0x7F]
    assert pushes and all(b["pc"] == a["pc"] + a["op"] - 0x5E for a, b in pushes)
    assert all(int(line["computeCost"], 16) <= int(line["gasCost"], 16) for line in lines)


def test_validating_real_blocks_leaves_no_cyclic_garbage(testdata: Path) -> None:
    """Frames' errors (reverts, failing precompiles) drop their tracebacks and the witness state holds no
    cycle, so a validated block is freed by reference counting, not by the garbage collector."""
    import gc

    from gas.spec import TESTNET
    from megaeth_node.fixtures import fixture_blocks, load_contracts
    from validator.core import validate_block

    codes = load_contracts(testdata / "contracts.txt")
    fbs = fixture_blocks(testdata)
    jobs = [(fbs[i - 1].block().header, fbs[i]) for i in range(1, 4)]
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for parent, fb in jobs:
            assert validate_block(fb.block(), parent, fb.salt_path.read_bytes(), fb.mpt_path.read_bytes(), codes,
                                  TESTNET).valid
        gc.collect()
        garbage = [type(o).__qualname__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert garbage == []
